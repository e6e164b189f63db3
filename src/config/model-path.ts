/**
 * The reference's validate_inference_config model_path rule (spec §10.1): model_path is a folder that holds
 * `wts.h5.zip`, or a path whose `.zip` / `.h5.zip` form exists (or the bundle file itself).
 */
import {existsSync, statSync} from 'node:fs'
import path from 'node:path'

import {MissingInputError} from '../errors.js'

export const MODEL_BUNDLE_NAME = 'wts.h5.zip'

/** The model bundle file a model_path names; MissingInputError listing what was tried when there is none. */
export function resolveModelBundle(modelPath: string): string {
  const tried: string[] = []
  const isDir = existsSync(modelPath) && statSync(modelPath).isDirectory()
  if (isDir) {
    const inside = path.join(modelPath, MODEL_BUNDLE_NAME)
    if (existsSync(inside)) return inside
    tried.push(inside)
  } else {
    const candidates = modelPath.endsWith('.zip') ? [modelPath] : [modelPath, `${modelPath}.zip`, `${modelPath.replace(/\.h5$/, '')}.h5.zip`]
    for (const c of candidates) {
      if (existsSync(c) && statSync(c).isFile() && c.endsWith('.zip')) return c
      tried.push(c)
    }
  }
  throw new MissingInputError(modelPath, `Model bundle (tried ${[...new Set(tried)].join(', ')})`)
}
