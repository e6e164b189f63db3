/**
 * Per-epoch training checkpoints: one zip per epoch under `<job>/checkpoints/`, written atomically
 * (temp file + fsync + rename), holding
 *   state.json   epoch, history, learning rate, optimizer step, callback state, rng scheme, model spec,
 *                the configuration fingerprint and the layout of the binary arrays
 *   arrays.bin   float32 little-endian: model variables, then Adam's first and second moments
 *   checksum.json  sha256 of state.json and arrays.bin
 * A checkpoint whose zip, checksum or layout does not verify is reported as corrupt and skipped; the newest
 * valid one wins. The last KEEP checkpoints are kept so that a damaged newest one has a fallback.
 */
import {createHash} from 'node:crypto'
import {readdir, readFile, rm} from 'node:fs/promises'
import path from 'node:path'
import {strToU8, strFromU8, unzipSync, zipSync} from 'fflate'
import {z} from 'zod'
import {writeFileAtomic} from '../io/atomic.js'

export const CHECKPOINT_DIR = 'checkpoints'
export const CHECKPOINT_FORMAT = 'ptychopinn-tfjs-checkpoint'
export const CHECKPOINT_VERSION = 1
const KEEP = 2

const finiteOrNull = z.number().nullable()

export const CheckpointStateSchema = z.object({
  format: z.literal(CHECKPOINT_FORMAT),
  version: z.literal(CHECKPOINT_VERSION),
  /** epochs completed */
  epoch: z.number().int().nonnegative(),
  nepochs: z.number().int().positive(),
  fingerprint: z.string(),
  learning_rate: z.number().positive(),
  optimizer_iterations: z.number().int().nonnegative(),
  stop_training: z.boolean(),
  history: z.record(z.string(), z.array(finiteOrNull)),
  callbacks: z.object({
    reduce_lr_on_plateau: z.object({best: finiteOrNull, wait: z.number().int(), cooldownCounter: z.number().int()}),
    early_stopping: z.object({best: finiteOrNull, wait: z.number().int(), stoppedEpoch: z.number().int()}),
  }),
  rng: z.object({seed: z.number(), scheme: z.string()}),
  elapsed_s: z.number().nonnegative(),
  arrays: z.array(z.object({name: z.string(), shape: z.array(z.number().int().nonnegative()), offset: z.number().int().nonnegative()})),
})
export type CheckpointState = z.infer<typeof CheckpointStateSchema>

export interface NamedArray {
  name: string
  shape: number[]
  data: Float32Array
}

export interface Checkpoint {
  state: CheckpointState
  arrays: NamedArray[]
  file: string
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

export function checkpointFileName(epoch: number): string {
  return `epoch-${String(epoch).padStart(4, '0')}.ckpt.zip`
}

/** Pack arrays into one little-endian float32 buffer and fill in their offsets (in floats). */
function packArrays(arrays: NamedArray[]): {bytes: Uint8Array; layout: CheckpointState['arrays']} {
  const total = arrays.reduce((a, x) => a + x.data.length, 0)
  const buf = new Float32Array(total)
  const layout: CheckpointState['arrays'] = []
  let off = 0
  for (const a of arrays) {
    buf.set(a.data, off)
    layout.push({name: a.name, shape: a.shape, offset: off})
    off += a.data.length
  }
  return {bytes: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), layout}
}

/** Write the checkpoint of `state.epoch` atomically; prune older ones. Returns its path. */
export async function writeCheckpoint(jobDir: string, state: Omit<CheckpointState, 'arrays'>, arrays: NamedArray[]): Promise<string> {
  const {bytes, layout} = packArrays(arrays)
  const full: CheckpointState = {...state, arrays: layout}
  const stateBytes = strToU8(JSON.stringify(full))
  const checksum = strToU8(JSON.stringify({'state.json': sha256(stateBytes), 'arrays.bin': sha256(bytes)}))
  const zip = zipSync({'state.json': stateBytes, 'arrays.bin': bytes, 'checksum.json': checksum}, {level: 0})
  const dir = path.join(jobDir, CHECKPOINT_DIR)
  const file = path.join(dir, checkpointFileName(state.epoch))
  await writeFileAtomic(file, zip)
  const names = (await listCheckpointFiles(jobDir)).map((f) => path.basename(f))
  for (const old of names.slice(KEEP)) await rm(path.join(dir, old), {force: true})
  return file
}

/** Checkpoint files of a job, newest (highest epoch) first. */
export async function listCheckpointFiles(jobDir: string): Promise<string[]> {
  const dir = path.join(jobDir, CHECKPOINT_DIR)
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  return names
    .filter((n) => /^epoch-\d+\.ckpt\.zip$/.test(n))
    .sort()
    .reverse()
    .map((n) => path.join(dir, n))
}

/** Read and verify one checkpoint; throws an Error saying what is wrong. */
export async function readCheckpoint(file: string): Promise<Checkpoint> {
  const raw = new Uint8Array(await readFile(file))
  let members: Record<string, Uint8Array>
  try {
    members = unzipSync(raw)
  } catch (error) {
    throw new Error(`not a readable zip (${(error as Error).message})`)
  }
  for (const m of ['state.json', 'arrays.bin', 'checksum.json']) if (!members[m]) throw new Error(`member ${m} is missing`)
  let sums: Record<string, string>
  try {
    sums = JSON.parse(strFromU8(members['checksum.json']))
  } catch {
    throw new Error('checksum.json is not valid JSON')
  }
  for (const m of ['state.json', 'arrays.bin']) {
    if (sums[m] !== sha256(members[m])) throw new Error(`checksum mismatch for ${m}`)
  }
  const parsed = CheckpointStateSchema.safeParse(JSON.parse(strFromU8(members['state.json'])))
  if (!parsed.success) throw new Error(`state.json does not match the checkpoint schema: ${z.prettifyError(parsed.error)}`)
  const state = parsed.data
  const bin = members['arrays.bin']
  if (bin.byteLength % 4 !== 0) throw new Error('arrays.bin length is not a multiple of 4')
  const floats = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength))
  const arrays: NamedArray[] = state.arrays.map((a) => {
    const n = a.shape.reduce((x, y) => x * y, 1)
    if (a.offset + n > floats.length) throw new Error(`array ${a.name} runs past the end of arrays.bin`)
    return {name: a.name, shape: a.shape, data: floats.subarray(a.offset, a.offset + n)}
  })
  return {state, arrays, file}
}

export interface ResumePoint {
  checkpoint?: Checkpoint
  /** human-readable notes: corrupt or mismatched checkpoints that were skipped */
  notes: string[]
}

/** The newest valid checkpoint whose fingerprint matches, with notes on every one skipped. */
export async function findResumePoint(jobDir: string, fingerprint: string): Promise<ResumePoint> {
  const notes: string[] = []
  for (const file of await listCheckpointFiles(jobDir)) {
    const rel = path.relative(jobDir, file)
    try {
      const ck = await readCheckpoint(file)
      if (ck.state.fingerprint !== fingerprint) {
        notes.push(`Checkpoint ${rel} was written for a different configuration; skipped`)
        continue
      }
      return {checkpoint: ck, notes}
    } catch (error) {
      notes.push(`Checkpoint ${rel} is corrupt or partial (${(error as Error).message}); skipped`)
    }
  }
  return {notes}
}

/** Remove temp files left by a write that was killed before its rename (they are never valid checkpoints). */
export async function removeStaleTemps(jobDir: string): Promise<string[]> {
  const dir = path.join(jobDir, CHECKPOINT_DIR)
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const stale = names.filter((n) => n.startsWith('.') && n.endsWith('.tmp'))
  for (const n of stale) await rm(path.join(dir, n), {force: true})
  return stale
}

/** Remove every checkpoint of a job (used when a job starts fresh over mismatched ones). */
export async function clearCheckpoints(jobDir: string): Promise<void> {
  for (const f of await listCheckpointFiles(jobDir)) await rm(f, {force: true})
}
