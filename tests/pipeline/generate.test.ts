/**
 * Phase C (`generateDoseSweep`): files, keys, dtypes, metadata, split, photon counts, reproducibility, and the
 * base-NPZ input, checked through our reader and, where present, numpy's np.load.
 */
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ContractError, MissingInputError, UsageError} from '../../src/errors.js'
import {digestFile} from '../../src/io/hash.js'
import {complex64, float64} from '../../src/io/ndarray.js'
import {readNpz, readNpzMetadata, writeNpz} from '../../src/io/npz.js'
import {generateDoseSweep, type GenerateOptions, phaseCManifestSchema} from '../../src/pipeline/generate.js'
import {syntheticProbe} from '../../src/physics/synthetic-probe.js'
import {hasNumpy, noteSkip, runPython} from '../metrics/python.js'

const dirs: string[] = []
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'study-gen-'))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) rmSync(d, {recursive: true, force: true})
})

function options(outputRoot: string, extra: Partial<GenerateOptions> = {}): GenerateOptions {
  return {
    outputRoot,
    doses: [1e3, 1e5],
    nImages: 160,
    seed: 42,
    objectSize: 160,
    probeSize: 64,
    designPatchSize: 128,
    gridsize: 1,
    neighborCount: 7,
    ...extra,
  }
}

describe('generateDoseSweep (synthetic object and probe)', () => {
  let root: string
  let result: Awaited<ReturnType<typeof generateDoseSweep>>
  beforeAll(async () => {
    root = path.join(tmp(), 'phase_c')
    result = await generateDoseSweep(options(root))
  })

  it('writes dose_{d}/patched_{train,test}.npz with the keys, dtypes and shapes of spec 4.7', async () => {
    for (const dose of ['dose_1000', 'dose_100000']) {
      for (const split of ['train', 'test']) {
        const data = await readNpz(path.join(root, dose, `patched_${split}.npz`))
        const n = data.xcoords.shape[0]
        expect(n).toBeGreaterThan(40)
        const expectDtype: Record<string, [string, number[]]> = {
          xcoords: ['<f8', [n]],
          ycoords: ['<f8', [n]],
          xcoords_start: ['<f8', [n]],
          ycoords_start: ['<f8', [n]],
          diffraction: ['<f4', [n, 64, 64]],
          probeGuess: ['<c8', [64, 64]],
          objectGuess: ['<c8', [160, 160]],
          scan_index: ['<i8', [n]],
          ground_truth_patches: ['<c8', [n, 64, 64, 1]],
        }
        for (const [key, [dtype, shape]] of Object.entries(expectDtype)) {
          expect(data[key]?.dtype, key).toBe(dtype)
          expect(data[key].shape, key).toEqual(shape)
        }
        // the singleton Y of the reference is deliberately not written (spec 15.2)
        expect(data.Y).toBeUndefined()
        expect(Array.from(data.xcoords_start.data as Float64Array)).toEqual(Array.from(data.xcoords.data as Float64Array))
      }
    }
  })

  it('records seeds, dose, N and the canonicalize transformation in _metadata (JSON, no pickle)', async () => {
    const md = await readNpzMetadata(path.join(root, 'dose_1000', 'patched_train.npz'))
    expect(md.kind).toBe('json')
    const v = (md as {value: Record<string, any>}).value
    expect(v.physics_parameters.nphotons).toBe(1000)
    expect(v.physics_parameters.N).toBe(64)
    expect(v.additional_parameters.seed).toBe(42)
    expect(v.additional_parameters.poisson_seed).toBe(result.manifest.doses.dose_1000.poisson_seed)
    const tools = v.data_transformations.map((t: {tool: string}) => t.tool)
    expect(tools).toContain('transpose_rename_convert')
    expect(tools).toContain('split_dataset')
    expect(JSON.stringify(v)).not.toMatch(/timestamp/)
  })

  it('splits on y at the coordinate-range midpoint: train y < split point <= test y', async () => {
    const e = result.manifest.doses.dose_1000
    const train = await readNpz(path.join(root, e.train))
    const test = await readNpz(path.join(root, e.test))
    const ty = Array.from(train.ycoords.data as Float64Array)
    const sy = Array.from(test.ycoords.data as Float64Array)
    const all = [...ty, ...sy]
    const mid = Math.min(...all) + (Math.max(...all) - Math.min(...all)) * 0.5
    expect(e.split_point).toBeCloseTo(mid, 12)
    expect(Math.max(...ty)).toBeLessThan(mid)
    expect(Math.min(...sy)).toBeGreaterThanOrEqual(mid)
    expect(ty.length + sy.length).toBe(160)
    // scan positions inside [N/2, size - N/2]
    for (const v of all) expect(v >= 32 && v <= 128).toBe(true)
  })

  it('mean photons per pattern equal the dose within 5 Poisson standard errors (re-scaled from the stored amplitudes)', async () => {
    for (const [key, dose] of [['dose_1000', 1e3], ['dose_100000', 1e5]] as const) {
      const e = result.manifest.doses[key]
      let total = 0
      let count = 0
      for (const split of ['train', 'test'] as const) {
        const x = (await readNpz(path.join(root, e.files[split].path), {members: ['diffraction']})).diffraction.data as Float32Array
        for (let i = 0; i < x.length; i++) total += (x[i] * e.intensity_scale) ** 2
        count += x.length / (64 * 64)
      }
      expect(Math.abs(total / count - dose)).toBeLessThan(5 * Math.sqrt(dose / count))
      expect(e.mean_photons_per_pattern).toBeCloseTo(total / count, 0)
    }
  })

  it('the normalised amplitudes do not depend on the dose except through noise (same object, same scan)', async () => {
    const a = (await readNpz(path.join(root, 'dose_1000/patched_train.npz'))).diffraction.data as Float32Array
    const b = (await readNpz(path.join(root, 'dose_100000/patched_train.npz'))).diffraction.data as Float32Array
    let ea = 0
    let eb = 0
    for (let i = 0; i < a.length; i++) {
      ea += a[i] * a[i]
      eb += b[i] * b[i]
    }
    // equal expected energy: mean sum X^2 = mean sum |Y P|^2 at every dose
    expect(Math.abs(ea - eb) / eb).toBeLessThan(0.05)
  })

  it('writes a run_manifest.json that passes its schema, with sha256 of every file and a warning for N != design', async () => {
    const json = JSON.parse(readFileSync(result.manifestPath, 'utf8'))
    const m = phaseCManifestSchema.parse(json)
    expect(m.simulation.N).toBe(64)
    expect(m.n_matches_design).toBe(false)
    expect(m.warnings.join(' ')).toMatch(/N=64 .*patch_size_pixels=128/)
    for (const e of Object.values(m.doses)) {
      for (const f of [e.files.train, e.files.test]) {
        const d = await digestFile(path.join(root, f.path))
        expect(d.sha256).toBe(f.sha256)
        expect(d.size_bytes).toBe(f.size_bytes)
      }
      expect(e.validation.train.every((line) => !line.startsWith('error'))).toBe(true)
    }
    expect(Object.keys(m.doses)).toEqual(['dose_1000', 'dose_100000'])
  })

  it('reproduces bit-identical files from the same seed and different ones from another seed', async () => {
    const again = await generateDoseSweep(options(path.join(tmp(), 'phase_c')))
    const other = await generateDoseSweep(options(path.join(tmp(), 'phase_c'), {seed: 7, doses: [1e3]}))
    for (const key of ['dose_1000', 'dose_100000']) {
      expect(again.manifest.doses[key].files.train.sha256).toBe(result.manifest.doses[key].files.train.sha256)
      expect(again.manifest.doses[key].files.test.sha256).toBe(result.manifest.doses[key].files.test.sha256)
    }
    expect(other.manifest.doses.dose_1000.files.train.sha256).not.toBe(result.manifest.doses.dose_1000.files.train.sha256)
  })

  it.skipIf(!hasNumpy)('numpy np.load reads every split without allow_pickle; ground truth = bilinear object at each position', () => {
    const file = path.join(root, 'dose_1000', 'patched_test.npz')
    const r = runPython<{keys: string[]; dtypes: Record<string, string>; meta: string; gtErr: number; n: number}>(
      `d = np.load(${JSON.stringify(file)})
keys = sorted(d.files); dt = {k: str(d[k].dtype) for k in keys}
meta = json.loads(str(d['_metadata']))['data_transformations'][1]['tool']
O = d['objectGuess']; gt = d['ground_truth_patches'][..., 0]; x = d['xcoords']; y = d['ycoords']
# centre pixel of each patch = the object bilinearly interpolated at (row y, column x)
err = 0.0
for b in range(len(x)):
    r0, c0 = int(np.floor(y[b])), int(np.floor(x[b])); fy, fx = y[b] - r0, x[b] - c0
    v = (1-fy)*(1-fx)*O[r0, c0] + (1-fy)*fx*O[r0, c0+1] + fy*(1-fx)*O[r0+1, c0] + fy*fx*O[r0+1, c0+1]
    err = max(err, abs(gt[b, 32, 32] - v))
out({'keys': keys, 'dtypes': dt, 'meta': meta, 'gtErr': float(err), 'n': int(len(x))})`,
    )
    expect(r.keys).toEqual(
      ['_metadata', 'diffraction', 'ground_truth_patches', 'objectGuess', 'probeGuess', 'scan_index', 'xcoords', 'xcoords_start', 'ycoords', 'ycoords_start'],
    )
    expect(r.dtypes.diffraction).toBe('float32')
    expect(r.dtypes.objectGuess).toBe('complex64')
    expect(r.dtypes.scan_index).toBe('int64')
    expect(r.meta).toBe('transpose_rename_convert')
    expect(r.gtErr).toBeLessThan(1e-5)
  })
  if (!hasNumpy) noteSkip('phase C files read by numpy', 'numpy')
})

describe('generateDoseSweep never leaves a root its manifest does not describe (QA #9)', () => {
  const small = (root: string, extra: Partial<GenerateOptions> = {}) => options(root, {nImages: 60, objectSize: 120, ...extra})
  const snapshot = async (root: string) => {
    const out: Record<string, string> = {}
    for (const f of ['run_manifest.json', 'dose_1000/patched_train.npz', 'dose_1000/patched_test.npz', 'dose_100000/patched_train.npz']) {
      out[f] = (await digestFile(path.join(root, f))).sha256
    }
    return out
  }

  it('refuses to leave dose folders of another simulation beside its own, naming them and what differs; --force removes them', async () => {
    const root = path.join(tmp(), 'phase_c')
    await generateDoseSweep(small(root))
    const before = await snapshot(root)
    const err = await generateDoseSweep(small(root, {seed: 7, doses: [1e3]})).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UsageError)
    expect((err as Error).message).toContain(`${root} already holds dose_100000 from an earlier run with a different simulation (run_manifest.json: seed 42 → 7)`)
    expect((err as Error).message).toContain('--force')
    expect(await snapshot(root)).toEqual(before) // nothing touched
    const forced = await generateDoseSweep(small(root, {seed: 7, doses: [1e3], force: true}))
    expect(Object.keys(forced.manifest.doses)).toEqual(['dose_1000'])
    expect(existsSync(path.join(root, 'dose_100000'))).toBe(false)
    // the same simulation one dose at a time is not a mix: the other dose is kept and listed
    const more = await generateDoseSweep(small(root, {seed: 7, doses: [1e5]}))
    expect(Object.keys(more.manifest.doses).sort()).toEqual(['dose_1000', 'dose_100000'])
  })

  it('a run that fails keeps the earlier files and manifest byte for byte and leaves no staging folder', async () => {
    const root = path.join(tmp(), 'phase_c')
    await generateDoseSweep(small(root))
    const before = await snapshot(root)
    // another simulation of the same doses, failing DATA-001 on the second dose: the first dose's new files
    // (other bytes: seed 7) must not land
    let calls = 0
    const validate: GenerateOptions['validate'] = async (file, o) => {
      calls++
      if (calls === 3) return {file, status: 'fail', findings: [{level: 'error', check: 'DATA-001', field: 'diffraction', message: 'injected failure'}]} as never
      const {validateNpzFile} = await import('../../src/data/dataset-contract.js')
      return validateNpzFile(file, o)
    }
    const err = await generateDoseSweep(small(root, {seed: 7, validate})).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ContractError)
    expect((err as Error).message).toContain(path.join(root, 'dose_100000', 'patched_train.npz'))
    expect((err as Error).message).not.toContain('.staging-')
    expect(await snapshot(root)).toEqual(before)
    expect(readdirSync(root).filter((n) => n.startsWith('.staging-'))).toEqual([])
  })

  it('removes the staging folder a killed run left behind', async () => {
    const root = path.join(tmp(), 'phase_c')
    const dead = path.join(root, '.staging-999999999', 'dose_1000')
    mkdirSync(dead, {recursive: true})
    writeFileSync(path.join(dead, 'patched_train.npz'), 'half a file')
    await generateDoseSweep(small(root, {doses: [1e3]}))
    expect(readdirSync(root).sort()).toEqual(['dose_1000', 'run_manifest.json'])
  })
})

describe('generateDoseSweep with --base-npz', () => {
  it('takes objectGuess/probeGuess from the file and n_images from its xcoords; N from the probe', async () => {
    const dir = tmp()
    const base = path.join(dir, 'base.npz')
    const H = 140
    const obj = new Float64Array(2 * H * H)
    for (let i = 0; i < H * H; i++) {
      obj[2 * i] = 0.8 + 0.1 * Math.sin(i / 17)
      obj[2 * i + 1] = 0.2 * Math.cos(i / 23)
    }
    const probe = syntheticProbe(64)
    await writeNpz(base, {
      objectGuess: {dtype: '<c16', shape: [H, H], data: obj},
      probeGuess: complex64([64, 64], Float32Array.from(probe.data)),
      xcoords: float64([90]),
    })
    const r = await generateDoseSweep({...options(path.join(dir, 'phase_c'), {doses: [1e4], baseNpz: base, designPatchSize: 64}), nImages: undefined})
    expect(r.manifest.simulation.source).toBe('base_npz')
    expect(r.manifest.simulation.n_images).toBe(90)
    expect(r.manifest.simulation.object_shape).toEqual([H, H])
    expect(r.manifest.warnings).toEqual([])
    expect(r.manifest.simulation.base_npz?.sha256).toBe((await digestFile(base)).sha256)
  })

  it('names the file and the field when the base NPZ is unusable, and writes nothing', async () => {
    const dir = tmp()
    const base = path.join(dir, 'bad.npz')
    await writeNpz(base, {objectGuess: complex64([100, 100]), probeGuess: complex64([64, 32])})
    const out = path.join(dir, 'phase_c')
    await expect(generateDoseSweep(options(out, {baseNpz: base}))).rejects.toThrow(ContractError)
    await expect(generateDoseSweep(options(out, {baseNpz: base}))).rejects.toThrow(/bad\.npz: field 'probeGuess': must be square N x N, got 64 x 32/)
    const noProbe = path.join(dir, 'noprobe.npz')
    await writeNpz(noProbe, {objectGuess: complex64([100, 100])})
    await expect(generateDoseSweep(options(out, {baseNpz: noProbe}))).rejects.toThrow(/noprobe\.npz: field 'probeGuess': missing/)
    const smallProbe = path.join(dir, 'probe32.npz')
    await writeNpz(smallProbe, {objectGuess: complex64([100, 100]), probeGuess: complex64([32, 32])})
    await expect(generateDoseSweep(options(out, {baseNpz: smallProbe}))).rejects.toThrow(/probe32\.npz: field 'probeGuess': N x N with N in \{64, 128, 256\}, got 32 x 32/)
    const realObj = path.join(dir, 'realobj.npz')
    await writeNpz(realObj, {objectGuess: float64([100, 100]), probeGuess: complex64([64, 64])})
    await expect(generateDoseSweep(options(out, {baseNpz: realObj}))).rejects.toThrow(/objectGuess': must be complex/)
    await expect(generateDoseSweep(options(out, {baseNpz: path.join(dir, 'absent.npz')}))).rejects.toThrow(MissingInputError)
    // all zeros: nothing to simulate (was a RangeError, exit 70, after the scan was built)
    const live = Float32Array.from(syntheticProbe(64).data)
    const zeroProbe = path.join(dir, 'zeroprobe.npz')
    await writeNpz(zeroProbe, {objectGuess: complex64([100, 100], new Float32Array(2 * 100 * 100).fill(1)), probeGuess: complex64([64, 64])})
    await expect(generateDoseSweep(options(out, {baseNpz: zeroProbe}))).rejects.toThrow(ContractError)
    await expect(generateDoseSweep(options(out, {baseNpz: zeroProbe}))).rejects.toThrow(/zeroprobe\.npz: field 'probeGuess': is all zeros/)
    const zeroObject = path.join(dir, 'zeroobject.npz')
    await writeNpz(zeroObject, {objectGuess: complex64([100, 100]), probeGuess: complex64([64, 64], live)})
    await expect(generateDoseSweep(options(out, {baseNpz: zeroObject}))).rejects.toThrow(/zeroobject\.npz: field 'objectGuess': is all zeros/)
    await expect(readNpz(path.join(out, 'dose_1000', 'patched_train.npz'))).rejects.toThrow()
  })

  it('rejects bad options with usage errors', async () => {
    const out = path.join(tmp(), 'phase_c')
    await expect(generateDoseSweep(options(out, {probeSize: 100}))).rejects.toThrow(UsageError)
    await expect(generateDoseSweep(options(out, {doses: []}))).rejects.toThrow(/no doses/)
    await expect(generateDoseSweep(options(out, {doses: [-5]}))).rejects.toThrow(/positive/)
    await expect(generateDoseSweep(options(out, {doses: [1000, 1000.4]}))).rejects.toThrow(/same folder dose_1000/)
    await expect(generateDoseSweep(options(out, {objectSize: 40}))).rejects.toThrow(/object-size/)
  })
})
