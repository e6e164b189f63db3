import {mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {resolveModelBundle} from '../../src/config/model-path.js'
import {MissingInputError} from '../../src/errors.js'
import {tempDir} from '../pipeline/fixtures.js'

describe('resolveModelBundle (validate_inference_config model_path rule)', () => {
  const dir = tempDir()
  const runDir = path.join(dir, 'run')
  mkdirSync(runDir)
  writeFileSync(path.join(runDir, 'wts.h5.zip'), 'x')
  writeFileSync(path.join(dir, 'model.h5.zip'), 'x')
  writeFileSync(path.join(dir, 'other.zip'), 'x')

  it('a folder holding wts.h5.zip, or a path whose .zip / .h5.zip form exists', () => {
    expect(resolveModelBundle(runDir)).toBe(path.join(runDir, 'wts.h5.zip'))
    expect(resolveModelBundle(path.join(dir, 'model'))).toBe(path.join(dir, 'model.h5.zip'))
    expect(resolveModelBundle(path.join(dir, 'model.h5'))).toBe(path.join(dir, 'model.h5.zip'))
    expect(resolveModelBundle(path.join(dir, 'other'))).toBe(path.join(dir, 'other.zip'))
    expect(resolveModelBundle(path.join(dir, 'other.zip'))).toBe(path.join(dir, 'other.zip'))
  })

  it('otherwise a MissingInputError naming the path and what was tried', () => {
    const empty = path.join(dir, 'empty')
    mkdirSync(empty)
    expect(() => resolveModelBundle(empty)).toThrow(MissingInputError)
    expect(() => resolveModelBundle(empty)).toThrow(/Model bundle \(tried .*empty\/wts\.h5\.zip\) not found/)
    expect(() => resolveModelBundle(path.join(dir, 'nope'))).toThrow(/nope\.zip/)
  })
})
