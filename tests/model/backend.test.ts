import {describe, expect, it} from 'vitest'
import {UsageError} from '../../src/errors.js'
import {ensureBackend, findNativePackage} from '../../src/model/backend.js'

describe('backend selection', () => {
  it('auto falls back to wasm when no native TensorFlow binding is installed', async () => {
    if (findNativePackage()) {
      console.log('[backend.test] a native tfjs-node package is installed here: auto picks tensorflow')
      expect(await ensureBackend('auto')).toBe('tensorflow')
      return
    }
    expect(await ensureBackend('auto')).toBe('wasm')
  })

  it('an unknown backend name is a usage error listing the choices', async () => {
    await expect(ensureBackend('gpu')).rejects.toThrow(UsageError)
    await expect(ensureBackend('gpu')).rejects.toThrow(/Unknown backend 'gpu'. Expected one of: auto, tensorflow, wasm, cpu/)
  })

  it.skipIf(Boolean(findNativePackage()))('tensorflow without tfjs-node says how to install it', async () => {
    await expect(ensureBackend('tensorflow')).rejects.toThrow(/npm i @tensorflow\/tfjs-node-gpu@4\.22\.0.*npm i @tensorflow\/tfjs-node@4\.22\.0/)
  })

  it('cpu and wasm can be chosen explicitly', async () => {
    expect(await ensureBackend('cpu')).toBe('cpu')
    expect(await ensureBackend('wasm')).toBe('wasm')
  })
})
