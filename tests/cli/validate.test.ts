/**
 * `study validate` as a real process from bin/run.js (needs dist/: `npx tsc -p tsconfig.json; npx oclif manifest`).
 */
import {spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {beforeAll, describe, expect, it} from 'vitest'

import type {ValidationResult} from '../../src/data/dataset-contract.js'
import type {NdArray} from '../../src/io/ndarray.js'
import {writeNpz} from '../../src/io/npz.js'
import {hasNumpy, python, tempDir} from '../io/helpers.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const bin = path.join(root, 'bin/run.js')
const built = existsSync(path.join(root, 'dist/src/commands/validate.js'))
if (!built) console.log('[skip] study validate CLI tests: dist/ is not built (run: npx tsc -p tsconfig.json; npx oclif manifest)')

function study(args: string[]): {status: number | null; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [bin, ...args], {cwd: root, encoding: 'utf8', timeout: 120_000})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

function dataset(n: number, opts: {xLen?: number; diffractionDtype?: '<f4' | '<c8'} = {}): Record<string, NdArray> {
  const N = 16
  const diff =
    opts.diffractionDtype === '<c8'
      ? {dtype: '<c8', shape: [n, N, N], data: new Float32Array(2 * n * N * N).fill(0.5)}
      : {dtype: '<f4', shape: [n, N, N], data: Float32Array.from({length: n * N * N}, (_, k) => ((k * 7919) % 1000) / 1000)}
  const xLen = opts.xLen ?? n
  return {
    diffraction: diff,
    objectGuess: {dtype: '<c8', shape: [40, 40], data: new Float32Array(2 * 40 * 40).fill(1)},
    probeGuess: {dtype: '<c8', shape: [N, N], data: new Float32Array(2 * N * N).fill(1)},
    xcoords: {dtype: '<f8', shape: [xLen], data: Float64Array.from({length: xLen}, (_, k) => k * 3)},
    ycoords: {dtype: '<f8', shape: [n], data: Float64Array.from({length: n}, (_, k) => k * 3)},
  }
}

describe.skipIf(!built)('study validate (real process)', () => {
  let dir: string
  let good: string
  let bad: string
  beforeAll(async () => {
    dir = tempDir('study-cli-validate-')
    good = path.join(dir, 'good.npz')
    bad = path.join(dir, 'bad.npz')
    await writeNpz(good, dataset(12))
    await writeNpz(bad, dataset(12, {xLen: 11, diffractionDtype: '<c8'}))
  })

  it('a valid file: exit 0 and a ✓ line', () => {
    const r = study(['validate', good])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`^✓ ${good.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: DATA-001 ok \\(12 images, N=16, diffraction float32 in \\[0, 0.999\\], mean 0.4`))
    expect(r.stdout.trim().split('\n').at(-1)).toBe('1 file: 1 ok, 0 failed')
  })

  it('a failing file: exit 1, every error listed, the valid file still reported', () => {
    const r = study(['validate', good, bad])
    expect(r.status).toBe(1)
    expect(r.stdout).toContain(`✓ ${good}`)
    expect(r.stdout).toContain(`✗ ${bad}: 2 errors`)
    expect(r.stdout).toContain('    ✗ diffraction: diffraction must be float (amplitude), got dtype=complex64. DATA-001 requires amplitude (sqrt of intensity).')
    expect(r.stdout).toContain('    ✗ xcoords: xcoords length 11 != diffraction first axis 12')
    expect(r.stderr).toContain('error: 1 of 2 files failed DATA-001 validation')
  })

  it('a missing file: exit 3, the others still checked', () => {
    const missing = path.join(dir, 'nope.npz')
    const r = study(['validate', missing, good])
    expect(r.status).toBe(3)
    expect(r.stdout).toContain(`✗ ${missing}: not found`)
    expect(r.stdout).toContain(`✓ ${good}`)
    expect(r.stderr).toContain(`NPZ file not found: ${missing}`)
  })

  it('--json: a machine-readable report on stdout; --gridsize without --neighbor-count fails OVERSAMPLING-001', () => {
    const r = study(['validate', '--json', '--gridsize', '2', good])
    expect(r.status).toBe(1)
    const res = JSON.parse(r.stdout) as ValidationResult
    expect(res).toMatchObject({ok: false, gridsize: 2, neighbor_count: null, counts: {ok: 0, failed: 1, missing: 0}})
    expect(res.files[0]!.findings).toEqual([
      {
        level: 'error',
        field: 'neighbor_count',
        check: 'OVERSAMPLING-001/required',
        message: 'neighbor_count required when gridsize=2 > 1 for oversampling validation (OVERSAMPLING-001)',
      },
    ])
    const ok = study(['validate', '--json', '--gridsize', '2', '--neighbor-count', '7', good])
    expect(ok.status).toBe(0)
    expect((JSON.parse(ok.stdout) as ValidationResult).files[0]).toMatchObject({status: 'ok', n_images: 12, N: 16})
  })

  it('usage errors exit 2', () => {
    expect(study(['validate']).status).toBe(2)
    expect(study(['validate', '--gridsize', '0', good]).status).toBe(2)
  })

  it.skipIf(!hasNumpy)("accepts PtychoPINN's own phase C layout (savez_compressed, pickled _metadata) with a warning", () => {
    const file = path.join(dir, 'ptychopinn.npz')
    python([
      '-c',
      `import numpy as np, json, sys
rng = np.random.default_rng(0)
n = 10
np.savez_compressed(sys.argv[1], diffraction=rng.random((n, 64, 64)).astype(np.float32),
  objectGuess=(rng.random((128, 128)) + 1j).astype(np.complex64), probeGuess=(rng.random((64, 64)) + 0j).astype(np.complex64),
  xcoords=np.arange(n) * 110.0, ycoords=np.arange(n) * 110.0, xcoords_start=np.arange(n) * 110.0, ycoords_start=np.arange(n) * 110.0,
  scan_index=np.zeros(n, dtype=int), _metadata=np.array(json.dumps({'schema_version': '1.0.0'}), dtype=object))`,
      file,
    ])
    const r = study(['validate', file])
    expect(r.status, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain(`✓ ${file}: DATA-001 ok (10 images, N=64`)
    expect(r.stdout).toContain('    ! _metadata: _metadata is a pickled Python object array that JS cannot read')
  })
})
