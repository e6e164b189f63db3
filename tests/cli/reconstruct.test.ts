/**
 * `study reconstruct` as a real process from bin/run.js (needs dist/: `npx tsc -p tsconfig.json; npx oclif manifest`).
 */
import {spawnSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {beforeAll, describe, expect, it} from 'vitest'

import {complex64, float32, float64} from '../../src/io/ndarray.js'
import {readNpz, writeNpz} from '../../src/io/npz.js'
import {createRng} from '../../src/util/random.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const bin = path.join(root, 'bin/run.js')
const built = existsSync(path.join(root, 'dist/src/commands/reconstruct.js'))
const bundleSupport = existsSync(path.join(root, 'dist/src/model/bundle.js')) && existsSync(path.join(root, 'dist/src/model/predict.js'))
const asNobody = built && process.getuid?.() === 0 && spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', '0']).status === 0
if (!built) console.log('[skip] study reconstruct CLI tests: dist/ is not built (run: npx tsc -p tsconfig.json; npx oclif manifest)')

function study(args: string[], cwd = root): {status: number | null; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [bin, ...args], {cwd, encoding: 'utf8', timeout: 300_000})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

describe.skipIf(!built)('study reconstruct (real process)', () => {
  it('a missing bundle exits 3 naming the file, and writes nothing', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'study-cli-rec-'))
    writeFileSync(path.join(dir, 'test.npz'), 'x')
    const r = study(['reconstruct', '--bundle', 'no-such.bundle', '--test-data', 'test.npz', '--output-dir', 'out'], dir)
    expect(r.status).toBe(3)
    expect(r.stderr).toMatch(/model bundle not found: .*no-such\.bundle/)
    expect(readdirSync(dir)).toEqual(['test.npz'])
  })

  it('an --output-dir that cannot be written (a file in its way) exits 73 at once, naming it, and leaves the file alone', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'study-cli-rec-'))
    writeFileSync(path.join(dir, 'afile'), 'keep me\n')
    for (const out of ['afile', 'afile/sub']) {
      const r = study(['reconstruct', '--bundle', 'no-such.bundle', '--test-data', 'test.npz', '--output-dir', out], dir)
      expect(r.status, r.stderr).toBe(73)
      expect(r.stderr).toContain(`cannot write ${path.join(dir, out)}: a file is in the way of a folder on that path`)
      expect(r.stderr).not.toMatch(/\n\s+at /)
    }
    expect(readFileSync(path.join(dir, 'afile'), 'utf8')).toBe('keep me\n')
    expect(readdirSync(dir)).toEqual(['afile'])
  })

  // permissions bind only a non-root user: as root, run the CLI as 'nobody' through runuser
  it.skipIf(!asNobody)('an --output-dir this user may not write (read-only, or under a read-only folder) exits 73 at once, naming it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'study-cli-rec-'))
    chmodSync(dir, 0o755)
    mkdirSync(path.join(dir, 'ro'), {mode: 0o555})
    for (const out of ['ro', 'ro/sub']) {
      // the bundle does not exist: the output folder is checked before anything is loaded or predicted
      const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, bin, 'reconstruct', '--bundle', 'no-such.bundle', '--test-data', 'test.npz', '--output-dir', out], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 120_000,
      })
      expect(r.status, r.stderr).toBe(73)
      expect(r.stderr).toContain(`cannot write ${path.join(dir, out)}: permission denied [EACCES]`)
      expect(r.stderr).not.toMatch(/\n\s+at /)
    }
    expect(readdirSync(path.join(dir, 'ro'))).toEqual([])
  })

  it('a missing required flag is a usage error (exit 2)', () => {
    const r = study(['reconstruct', '--bundle', 'x'])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/Missing required flag (test-data|output-dir)/)
  })

  if (!bundleSupport) console.log('[skip] corrupt-bundle and real-bundle CLI checks: dist/src/model/bundle.js and predict.js are not built')
  it.skipIf(!bundleSupport)('a corrupt bundle exits non-zero with a message naming the bundle file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'study-cli-rec-'))
    writeFileSync(path.join(dir, 'corrupt.bundle'), 'this is not a bundle')
    writeFileSync(path.join(dir, 'test.npz'), 'x')
    const r = study(['reconstruct', '--bundle', 'corrupt.bundle', '--test-data', 'test.npz', '--output-dir', 'out', '--backend', 'cpu'], dir)
    expect(r.status).toBe(4)
    expect(r.stderr).toMatch(/corrupt\.bundle/)
    expect(existsSync(path.join(dir, 'out', 'reconstruction.npz'))).toBe(false)
  })

  describe.skipIf(!bundleSupport)('with a real (untrained, seeded) tfjs bundle', () => {
    let dir: string
    beforeAll(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'study-cli-rec-'))
      const N = 64
      const n = 24
      const rng = createRng(2)
      const {ensureBackend} = await import('../../src/model/backend.js')
      await ensureBackend('wasm')
      const {modelSpecFrom} = await import('../../src/model/architecture.js')
      const {PtychoPinn} = await import('../../src/model/ptychopinn.js')
      const {saveBundle} = await import('../../src/model/bundle.js')
      const spec = modelSpecFrom(
        {N, gridsize: 1, n_filters_scale: 1, amp_activation: 'sigmoid', object_big: true, probe_big: true, probe_mask: false, pad_object: true, probe_scale: 4, gaussian_smoothing_sigma: 0},
        {nphotons: 1e6, intensity_scale_trainable: true, probe_trainable: false},
      )
      const probe = new Float32Array(2 * N * N)
      for (let r = 0; r < N; r++) for (let c = 0; c < N; c++) probe[2 * (r * N + c)] = Math.exp(-((r - N / 2) ** 2 + (c - N / 2) ** 2) / 200)
      const model = new PtychoPinn(spec, probe, createRng(5))
      await saveBundle(path.join(dir, 'model_bundle.zip'), model, {legacyParams: {N, gridsize: 1}, backend: 'wasm'})
      model.dispose()
      const H = 160
      const obj = new Float32Array(2 * H * H).map((_, i) => (i % 2 === 0 ? 0.8 + 0.1 * Math.sin(i / 50) : 0.1))
      await writeNpz(path.join(dir, 'test.npz'), {
        diffraction: float32([n, N, N], new Float32Array(n * N * N).map(() => rng.next())),
        xcoords: float64([n], Float64Array.from({length: n}, () => 50 + 60 * rng.next())),
        ycoords: float64([n], Float64Array.from({length: n}, () => 50 + 60 * rng.next())),
        probeGuess: complex64([N, N], probe),
        objectGuess: complex64([H, H], obj),
      })
    })

    it('reconstructs as a real process: exit 0, JSON result, NPZ, PNGs and metrics written', () => {
      const r = study(['reconstruct', '--bundle', 'model_bundle.zip', '--test-data', 'test.npz', '--output-dir', 'out', '--backend', 'wasm', '--json'], dir)
      expect(r.stderr).not.toMatch(/internal error/)
      expect(r.status).toBe(0)
      const res = JSON.parse(r.stdout) as {npz_path: string; backend: string; n_groups: number; metrics: {ssim: {phase: number}} | null}
      expect(res.backend).toBe('wasm')
      expect(res.n_groups).toBe(24)
      expect(existsSync(res.npz_path)).toBe(true)
      expect(res.metrics).not.toBeNull()
      const files = readdirSync(path.join(dir, 'out'))
      for (const f of ['reconstruction.npz', 'reconstruction_amplitude.png', 'reconstruction_phase.png', 'reconstruction_metrics.json']) expect(files).toContain(f)
      expect(JSON.parse(readFileSync(path.join(dir, 'out', 'reconstruction_metrics.json'), 'utf8')).schema_version).toBe(1)
    })

    it('a new unscored reconstruction into the folder of a scored one removes the old scores instead of leaving them beside it', async () => {
      const args = ['reconstruct', '--bundle', 'model_bundle.zip', '--output-dir', 'mixed', '--backend', 'wasm']
      const scored = study([...args, '--test-data', 'test.npz'], dir)
      expect(scored.status, scored.stderr).toBe(0)
      const scores = ['reconstruction_metrics.json', 'ground_truth_amplitude.png', 'ground_truth_phase.png', 'comparison_amplitude.png', 'comparison_phase.png']
      for (const f of scores) expect(existsSync(path.join(dir, 'mixed', f)), f).toBe(true)
      // the same scan without objectGuess: not scored
      const arrays = await readNpz(path.join(dir, 'test.npz'))
      delete arrays.objectGuess
      await writeNpz(path.join(dir, 'noobj.npz'), arrays)
      const unscored = study([...args, '--test-data', 'noobj.npz', '--n-groups', '12'], dir)
      expect(unscored.status, unscored.stderr).toBe(0)
      expect(unscored.stdout).toContain('no objectGuess in the test data: not scored')
      expect(unscored.stderr).toContain(`removed ${scores.join(', ')} from ${path.join(dir, 'mixed')}: an earlier run scored a reconstruction that this run replaced`)
      expect(readdirSync(path.join(dir, 'mixed')).sort()).toEqual(['reconstruction.npz', 'reconstruction_amplitude.png', 'reconstruction_phase.png'])
      // a scored run again writes them all, and removes nothing
      const again = study([...args, '--test-data', 'test.npz'], dir)
      expect(again.status, again.stderr).toBe(0)
      expect(again.stderr).not.toContain('removed')
      for (const f of scores) expect(existsSync(path.join(dir, 'mixed', f)), f).toBe(true)
    })

    it('an odd --stitch-crop-size is a usage error (exit 2)', () => {
      const r = study(['reconstruct', '--bundle', 'model_bundle.zip', '--test-data', 'test.npz', '--output-dir', 'out2', '--backend', 'wasm', '--stitch-crop-size', '21'], dir)
      expect(r.status).toBe(2)
      expect(r.stderr).toMatch(/stitch crop size must be an even integer/)
    })
  })
})
