/**
 * TensorFlow.js backend selection for the PtychoPINN model.
 *
 * Backends, fastest first: `tensorflow` (native TensorFlow through @tensorflow/tfjs-node-gpu or
 * @tensorflow/tfjs-node, optional peer dependencies loaded only when installed), `wasm`
 * (@tensorflow/tfjs-backend-wasm, SIMD, one core, .wasm files loaded from node_modules with no network),
 * `cpu` (@tensorflow/tfjs-backend-cpu, plain JS, 20-30x slower than wasm).
 *
 * tfjs is imported lazily here: nothing imports it until a model is built or loaded.
 */
import {createRequire} from 'node:module'
import path from 'node:path'
import {UsageError} from '../errors.js'

export const BACKEND_CHOICES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const
export type BackendChoice = (typeof BACKEND_CHOICES)[number]

/** The native packages tried, in order, for the `tensorflow` backend. */
export const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const

export const TENSORFLOW_INSTALL_HINT =
  'install the native TensorFlow binding on this machine (it downloads libtensorflow, so it needs internet): ' +
  '`npm i @tensorflow/tfjs-node-gpu@4.22.0` (NVIDIA GPU with CUDA 11.x/cuDNN 8) or `npm i @tensorflow/tfjs-node@4.22.0` (CPU); ' +
  'or choose --backend wasm'

const require = createRequire(import.meta.url)

/** Which native package resolved, or undefined. Only resolves the name; does not load it. */
export function findNativePackage(): string | undefined {
  for (const name of NATIVE_PACKAGES) {
    try {
      require.resolve(name)
      return name
    } catch {
      // not installed
    }
  }
  return undefined
}

let wasmPathsSet = false
let gradientsRegistered = false

/**
 * Register the gradients of the core ops. tfjs-core's Node bundle registers none, and its ESM gradient files
 * cannot be loaded by Node directly; the @tensorflow/tfjs Node bundle registers them all into tfjs's global
 * registry (shared by every copy of tfjs-core), so loading it once is enough.
 */
export async function registerGradients(): Promise<void> {
  if (gradientsRegistered) return
  const tf = await import('@tensorflow/tfjs-core')
  if (!tf.getGradient('Mean')) {
    // a variable specifier: the union package is only needed for this side effect
    const specifier: string = '@tensorflow/tfjs'
    await import(specifier)
  }
  gradientsRegistered = true
}

async function tryTensorflow(): Promise<{ok: true} | {ok: false; reason: string}> {
  const tf = await import('@tensorflow/tfjs-core')
  if (tf.findBackend('tensorflow')) {
    return (await tf.setBackend('tensorflow')) ? {ok: true} : {ok: false, reason: 'the tensorflow backend failed to initialise'}
  }
  const name = findNativePackage()
  if (!name) return {ok: false, reason: `neither ${NATIVE_PACKAGES.join(' nor ')} is installed`}
  try {
    // a variable specifier keeps TypeScript from resolving an optional package
    const specifier: string = name
    await import(specifier)
  } catch (error) {
    return {ok: false, reason: `${name} is installed but failed to load: ${(error as Error).message}`}
  }
  if (!tf.findBackend('tensorflow')) {
    return {
      ok: false,
      reason: `${name} loaded but registered no 'tensorflow' backend with this copy of @tensorflow/tfjs-core (install the same version, 4.22.0)`,
    }
  }
  return (await tf.setBackend('tensorflow')) ? {ok: true} : {ok: false, reason: 'the tensorflow backend failed to initialise'}
}

async function useWasm(): Promise<boolean> {
  const tf = await import('@tensorflow/tfjs-core')
  const wasm = await import('@tensorflow/tfjs-backend-wasm')
  if (!wasmPathsSet) {
    // load the .wasm binaries from the package's own dist folder (a file path: no network)
    const dist = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep
    wasm.setWasmPaths(dist)
    wasmPathsSet = true
  }
  return tf.setBackend('wasm')
}

async function useCpu(): Promise<boolean> {
  const tf = await import('@tensorflow/tfjs-core')
  await import('@tensorflow/tfjs-backend-cpu')
  return tf.setBackend('cpu')
}

/**
 * Make `requested` the active tfjs backend and return the name of the backend actually used.
 * `auto` tries tensorflow, then wasm, then cpu. An unknown name or an unavailable explicit choice throws a
 * UsageError that says what to do.
 */
export async function ensureBackend(requested: string = 'auto'): Promise<string> {
  const used = await selectBackend(requested)
  activeBackend = used
  return used
}

let activeBackend: string | undefined

/** The backend chosen by the last ensureBackend call in this process, if any. */
export function currentBackend(): string | undefined {
  return activeBackend
}

async function selectBackend(requested: string): Promise<string> {
  const choice = requested.trim().toLowerCase()
  if (!(BACKEND_CHOICES as readonly string[]).includes(choice)) {
    throw new UsageError(`Unknown backend '${requested}'. Expected one of: ${BACKEND_CHOICES.join(', ')}`)
  }
  const tf = await import('@tensorflow/tfjs-core')
  await registerGradients()
  if (choice === 'tensorflow' || choice === 'auto') {
    const res = await tryTensorflow()
    if (res.ok) {
      await tf.ready()
      return tf.getBackend()
    }
    if (choice === 'tensorflow') {
      throw new UsageError(`Backend 'tensorflow' is not available: ${res.reason}. To use it, ${TENSORFLOW_INSTALL_HINT}.`)
    }
  }
  if (choice === 'wasm' || choice === 'auto') {
    let ok = false
    let reason = ''
    try {
      ok = await useWasm()
    } catch (error) {
      reason = (error as Error).message
    }
    if (ok) {
      await tf.ready()
      return tf.getBackend()
    }
    if (choice === 'wasm') throw new UsageError(`Backend 'wasm' failed to initialise${reason ? `: ${reason}` : ''}`)
  }
  if (!(await useCpu())) throw new UsageError(`Backend 'cpu' failed to initialise`)
  await tf.ready()
  return tf.getBackend()
}
