import {existsSync} from 'node:fs'
import {readFile} from 'node:fs/promises'

import type {z} from 'zod'

import {ContractError, zodContractError} from '../errors.js'

/**
 * Read a JSON document and validate it against its zod schema; undefined when the file does not exist.
 * Invalid JSON or a schema violation is a ContractError naming the file (and, for the schema, each field).
 */
export async function readJsonFile<S extends z.ZodType>(file: string, schema: S): Promise<z.infer<S> | undefined> {
  if (!existsSync(file)) return undefined
  let json: unknown
  try {
    json = JSON.parse(await readFile(file, 'utf8'))
  } catch (error) {
    throw new ContractError(file, undefined, `not valid JSON (${(error as Error).message})`)
  }
  const parsed = schema.safeParse(json)
  if (!parsed.success) throw zodContractError(file, parsed.error)
  return parsed.data
}
