/**
 * `study generate` and `study overlap` as real processes from bin/run.js (needs dist/:
 * `npx tsc -p tsconfig.json; npx oclif manifest`), on their defaults: the example-size study.
 */
import {spawnSync} from 'node:child_process'
import {chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {EXIT} from '../../src/errors.js'
import {complex64} from '../../src/io/ndarray.js'
import {writeNpz} from '../../src/io/npz.js'
import {hasNumpy, noteSkip, runPython} from '../metrics/python.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const bin = path.join(root, 'bin/run.js')
const built = existsSync(path.join(root, 'dist/src/commands/generate.js')) && existsSync(path.join(root, 'dist/src/commands/overlap.js'))
const asNobody = built && process.getuid?.() === 0 && spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', '0']).status === 0
if (!built) console.log('[skip] study generate/overlap CLI tests: dist/ is not built (run: npx tsc -p tsconfig.json; npx oclif manifest)')

function study(args: string[], cwd = root): {status: number | null; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [bin, ...args], {cwd, encoding: 'utf8', timeout: 180_000})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

describe.skipIf(!built)('study generate + study overlap (real processes, defaults)', () => {
  let dir: string
  let gen: ReturnType<typeof study>
  let ovl: ReturnType<typeof study>
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'study-cli-gen-'))
    // relative roots, resolved against the process's cwd
    gen = study(['generate', '--output-root', 'phase_c'], dir)
    ovl = study(['overlap', '--phase-c-root', 'phase_c', '--output-root', 'phase_d'], dir)
  })
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  it('generate: exit 0, three doses written and summarised, the N warning on stderr', () => {
    expect(gen.status, gen.stderr).toBe(0)
    for (const d of ['dose_1000', 'dose_10000', 'dose_100000']) {
      expect(existsSync(path.join(dir, 'phase_c', d, 'patched_train.npz'))).toBe(true)
      expect(existsSync(path.join(dir, 'phase_c', d, 'patched_test.npz'))).toBe(true)
      expect(gen.stdout).toContain(`${d}: ${d}/patched_train.npz`)
    }
    expect(gen.stdout).toMatch(/N=64, 512 positions, seed 42/)
    expect(gen.stderr).toMatch(/warning: N=64 \(from the probe\) differs from the design's nominal patch_size_pixels=128/)
    const m = JSON.parse(readFileSync(path.join(dir, 'phase_c', 'run_manifest.json'), 'utf8'))
    expect(m.phase_c_root).toBe(path.join(dir, 'phase_c'))
    expect(m.command_line).toEqual(['study', 'generate', '--output-root', 'phase_c'])
  })

  it('generate over that root with another seed and one dose: exit 2 naming the other doses, nothing changed; --force removes them', () => {
    const manifest = readFileSync(path.join(dir, 'phase_c', 'run_manifest.json'), 'utf8')
    const copy = path.join(dir, 'pc_copy')
    cpSync(path.join(dir, 'phase_c'), copy, {recursive: true})
    const r = study(['generate', '--output-root', 'pc_copy', '--seed', '7', '--dose', '1000', '--n-images', '64'], dir)
    expect(r.status, r.stderr).toBe(2)
    expect(r.stderr).toContain(`${copy} already holds dose_10000, dose_100000 from an earlier run with a different simulation (run_manifest.json: `)
    expect(r.stderr).toContain('seed 42 → 7')
    expect(readFileSync(path.join(copy, 'run_manifest.json'), 'utf8')).toBe(manifest)
    const forced = study(['generate', '--output-root', 'pc_copy', '--seed', '7', '--dose', '1000', '--n-images', '64', '--force'], dir)
    expect(forced.status, forced.stderr).toBe(0)
    expect(forced.stdout + forced.stderr).toContain('removed dose_10000 (--force)')
    expect(readdirSync(copy).sort()).toEqual(['dose_1000', 'run_manifest.json'])
  })

  it('overlap: exit 0, prints the dense vs sparse table, writes the v1-named files phase E looks for', () => {
    expect(ovl.status, ovl.stderr).toBe(0)
    const lines = ovl.stdout.split('\n')
    expect(lines.some((l) => /^dose_1000\s+dense\s+train\s+\d+/.test(l))).toBe(true)
    expect(lines.some((l) => /^dose_100000\s+sparse\s+test\s+\d+/.test(l))).toBe(true)
    for (const d of ['dose_1000', 'dose_10000', 'dose_100000'])
      for (const v of ['dense', 'sparse'])
        for (const s of ['train', 'test']) expect(existsSync(path.join(dir, 'phase_d', d, v, `${v}_${s}.npz`))).toBe(true)
    const m = JSON.parse(readFileSync(path.join(dir, 'phase_d', 'overlap_manifest.json'), 'utf8'))
    const dense = m.doses.dose_1000.views.dense.metrics.train
    const sparse = m.doses.dose_1000.views.sparse.metrics.train
    expect(dense.metric_2_image_based_avg).toBeGreaterThan(sparse.metric_2_image_based_avg)
  })

  it('--json prints a machine-readable manifest on stdout', () => {
    const r = study(['overlap', '--phase-c-root', 'phase_c', '--output-root', 'phase_d_json', '--dose', '1000', '--view', 'sparse', '--s-img', '0.5', '--json'], dir)
    expect(r.status, r.stderr).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j.manifest_path).toBe(path.join(dir, 'phase_d_json', 'overlap_manifest.json'))
    expect(Object.keys(j.doses)).toEqual(['dose_1000'])
    expect(j.doses.dose_1000.views.sparse.preset.s_img).toBe(0.5)
    const g = study(['generate', '--output-root', 'phase_c_json', '--dose', '1000', '--n-images', '64', '--object-size', '128', '--json'], dir)
    expect(g.status, g.stderr).toBe(0)
    expect(JSON.parse(g.stdout).doses.dose_1000.files.train.n_images).toBeGreaterThan(0)
  })

  // permissions bind only a non-root user: as root, run the CLI as 'nobody' through runuser
  it.skipIf(!asNobody)('overlap into a view folder this user may not write: exit 73 naming the view file (not a temporary one)', () => {
    chmodSync(dir, 0o755)
    const viewDir = path.join(dir, 'phase_d_ro', 'dose_1000', 'sparse')
    mkdirSync(viewDir, {recursive: true})
    chmodSync(viewDir, 0o555)
    const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, bin, 'overlap', '--phase-c-root', 'phase_c', '--output-root', 'phase_d_ro', '--dose', '1000', '--view', 'sparse'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 120_000,
    })
    expect(r.status, r.stderr).toBe(73)
    expect(r.stderr).toContain(`error: cannot write ${path.join(viewDir, 'sparse_train.npz')}: permission denied [EACCES]\n`)
    expect(readdirSync(viewDir)).toEqual([])
  })

  it('writes the same bytes with 1 and with 2 simulation worker threads', () => {
    const args = ['generate', '--dose', '10000', '--n-images', '300', '--object-size', '160']
    expect(study([...args, '--output-root', 'w1', '--workers', '1'], dir).status).toBe(0)
    expect(study([...args, '--output-root', 'w2', '--workers', '2'], dir).status).toBe(0)
    const sha = (root: string) => JSON.parse(readFileSync(path.join(dir, root, 'run_manifest.json'), 'utf8')).doses.dose_10000.files
    expect(sha('w1')).toEqual(sha('w2'))
  })

  it.skipIf(!hasNumpy)('numpy np.load reads what the commands wrote', () => {
    const r = runPython<{c: number[]; d: number[]}>(
      `a = np.load(${JSON.stringify(path.join(dir, 'phase_c/dose_10000/patched_train.npz'))})
b = np.load(${JSON.stringify(path.join(dir, 'phase_d/dose_10000/sparse/sparse_train.npz'))})
out({'c': list(a['diffraction'].shape), 'd': list(b['diffraction'].shape)})`,
    )
    expect(r.c.slice(1)).toEqual([64, 64])
    expect(r.d[0]).toBe(Math.round(0.140625 * r.c[0]))
  })
  if (!hasNumpy) noteSkip('numpy reading CLI outputs', 'numpy')
})

describe.skipIf(!built)('study generate/overlap errors (real processes)', () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'study-cli-gen-err-'))
  })
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  it('a missing --base-npz: exit 3 naming the file', () => {
    const r = study(['generate', '--output-root', 'out', '--base-npz', 'nope.npz'], dir)
    expect(r.status).toBe(EXIT.missingInput)
    expect(r.stderr).toMatch(/base NPZ not found: .*nope\.npz/)
  })

  it('a base NPZ whose probe is all zeros: exit 4 naming the file and probeGuess, before simulating, nothing written', async () => {
    const base = path.join(dir, 'base_zero_probe.npz')
    await writeNpz(base, {objectGuess: complex64([100, 100], new Float32Array(2 * 100 * 100).fill(1)), probeGuess: complex64([64, 64])})
    const r = study(['generate', '--output-root', 'g', '--base-npz', 'base_zero_probe.npz', '--dose', '1000', '--n-images', '10'], dir)
    expect(r.status, r.stderr).toBe(EXIT.contract)
    expect(r.stderr).toContain(`${base}: field 'probeGuess': is all zeros`)
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /)
    expect(existsSync(path.join(dir, 'g'))).toBe(false)
  })

  it('a bad flag value: exit 2', () => {
    expect(study(['generate', '--probe-size', '100'], dir).status).toBe(2)
    const r = study(['generate', '--output-root', 'out', '--dose', 'lots'], dir)
    expect(r.status).toBe(2)
    expect(study(['overlap', '--view', 'medium'], dir).status).toBe(EXIT.usage)
  })

  it('overlap with --neighbor-count below gridsize² (OVERSAMPLING-001): exit 2 before reading or writing anything', () => {
    const r = study(['overlap', '--phase-c-root', 'nothing', '--output-root', 'od', '--neighbor-count', '2', '--dose', '1000', '--view', 'dense'], dir)
    expect(r.status, r.stderr).toBe(EXIT.usage)
    expect(r.stderr).toMatch(/view 'dense': neighbor_count=2 is less than C = gridsize² = 4 \(OVERSAMPLING-001\): pass --neighbor-count 4 or more/)
    expect(existsSync(path.join(dir, 'od'))).toBe(false)
  })

  it('overlap without --dose takes the doses of the phase C root (a root made with --dose 5000 has only that one)', () => {
    expect(study(['generate', '--output-root', 'pc5000', '--dose', '5000', '--n-images', '200'], dir).status).toBe(0)
    const r = study(['overlap', '--phase-c-root', 'pc5000', '--output-root', 'pd5000', '--view', 'dense'], dir)
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^dose_5000\s+dense\s+train/m)
    expect(readdirSync(path.join(dir, 'pd5000')).sort()).toEqual(['dose_5000', 'overlap_manifest.json'])
  })

  it('overlap without phase C data: exit 3 naming the expected file', () => {
    const r = study(['overlap', '--phase-c-root', 'nothing', '--output-root', 'd'], dir)
    expect(r.status).toBe(EXIT.missingInput)
    expect(r.stderr).toMatch(/phase C train split for dose 1000 not found: .*nothing\/dose_1000\/patched_train\.npz/)
  })
})
