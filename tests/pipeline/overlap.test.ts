/**
 * Phase D (`generateOverlapViews`) on a small phase C tree: layout, subsampling, metrics files and bundle,
 * manifest, metadata, determinism, dense vs sparse, and the presets derived from the design.
 */
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {MissingInputError, UsageError} from '../../src/errors.js'
import {validateNpzFile} from '../../src/data/dataset-contract.js'
import {complex64} from '../../src/io/ndarray.js'
import {readNpz, readNpzMetadata, writeNpz} from '../../src/io/npz.js'
import {generateDoseSweep} from '../../src/pipeline/generate.js'
import {
  findPhaseCSplit,
  generateOverlapViews,
  metricsBundleSchema,
  overlapManifestSchema,
  overlapMetricsSchema,
} from '../../src/pipeline/overlap.js'
import {OVERLAP_VIEWS, overlapViewPresets, sImgFromOverlap} from '../../studies/fly64_dose_overlap/views.js'
import {getStudyDesign} from '../../studies/fly64_dose_overlap/design.js'
import {hasNumpy, noteSkip, runPython} from '../metrics/python.js'

let dir: string
let phaseC: string
beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'study-overlap-'))
  phaseC = path.join(dir, 'phase_c')
  await generateDoseSweep({
    outputRoot: phaseC,
    doses: [1e3, 1e4],
    nImages: 320,
    seed: 42,
    objectSize: 192,
    probeSize: 64,
    gridsize: 1,
    neighborCount: 7,
  })
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('view presets', () => {
  it('derive s_img from the design overlap fractions: dense 1.0, sparse (0.3/0.8)^2; both gridsize 2', () => {
    expect(sImgFromOverlap({dense: 0.7, sparse: 0.2})).toEqual({dense: 1, sparse: 0.140625})
    expect(OVERLAP_VIEWS.dense).toMatchObject({gridsize: 2, s_img: 1, n_groups: 512, neighbor_count: 7, rng_seed_subsample: 456, rng_seed_grouping: 123})
    expect(OVERLAP_VIEWS.sparse).toMatchObject({gridsize: 2, s_img: 0.140625, n_groups: 72})
    expect(OVERLAP_VIEWS.dense.probe_diameter_px).toBeCloseTo(38.4, 12)
    // a design with other fractions gives other presets
    const p = overlapViewPresets(getStudyDesign({overlap_views: {dense: 0.5, mid: 0.25}}))
    expect(p.mid.s_img).toBeCloseTo((0.5 / 0.75) ** 2, 12)
  })
})

describe('generateOverlapViews', () => {
  let phaseD: string
  let result: Awaited<ReturnType<typeof generateOverlapViews>>
  beforeAll(async () => {
    phaseD = path.join(dir, 'phase_d')
    result = await generateOverlapViews({phaseCRoot: phaseC, outputRoot: phaseD, doses: [1e3, 1e4], views: Object.values(OVERLAP_VIEWS)})
  })

  it('writes dose_{d}/{view}/{view}_{split}.npz, {split}_metrics.json and metrics_bundle.json', () => {
    for (const d of ['dose_1000', 'dose_10000'])
      for (const v of ['dense', 'sparse']) {
        for (const f of [`${v}_train.npz`, `${v}_test.npz`, 'train_metrics.json', 'test_metrics.json', 'metrics_bundle.json']) {
          expect(existsSync(path.join(phaseD, d, v, f)), `${d}/${v}/${f}`).toBe(true)
        }
        const bundle = metricsBundleSchema.parse(JSON.parse(readFileSync(path.join(phaseD, d, v, 'metrics_bundle.json'), 'utf8')))
        const train = overlapMetricsSchema.parse(JSON.parse(readFileSync(path.join(phaseD, d, v, 'train_metrics.json'), 'utf8')))
        expect(bundle.train).toEqual(train)
        expect(train.metric_1_group_based_avg).toBeDefined()
      }
    overlapManifestSchema.parse(JSON.parse(readFileSync(result.manifestPath, 'utf8')))
  })

  it('subsamples max(1, round(s_img n)) images and keeps their rows intact', async () => {
    const src = await readNpz(findPhaseCSplit(phaseC, 1e3, 'train'))
    const n = src.xcoords.shape[0]
    const sparse = await readNpz(path.join(phaseD, 'dose_1000/sparse/sparse_train.npz'))
    const k = sparse.xcoords.shape[0]
    expect(k).toBe(Math.max(1, Math.round(0.140625 * n)))
    expect(sparse.diffraction.shape).toEqual([k, 64, 64])
    expect(sparse.ground_truth_patches.shape).toEqual([k, 64, 64, 1])
    expect(sparse.objectGuess.shape).toEqual(src.objectGuess.shape)
    // each kept image is the phase C image with the same coordinates
    const sx = Array.from(src.xcoords.data as Float64Array)
    const sd = src.diffraction.data as Float32Array
    const kd = sparse.diffraction.data as Float32Array
    for (let j = 0; j < k; j++) {
      const i = sx.indexOf((sparse.xcoords.data as Float64Array)[j])
      expect(i).toBeGreaterThanOrEqual(0)
      expect(Array.from(kd.subarray(j * 4096, j * 4096 + 64))).toEqual(Array.from(sd.subarray(i * 4096, i * 4096 + 64)))
    }
    const dense = await readNpz(path.join(phaseD, 'dose_1000/dense/dense_train.npz'))
    expect(dense.xcoords.shape[0]).toBe(n)
  })

  it('the dense view measurably overlaps more than the sparse one (Metrics 1 and 2, every dose and split)', () => {
    for (const d of Object.values(result.manifest.doses)) {
      for (const split of ['train', 'test'] as const) {
        const dense = d.views.dense.metrics[split]
        const sparse = d.views.sparse.metrics[split]
        expect(dense.metric_2_image_based_avg).toBeGreaterThan(sparse.metric_2_image_based_avg + 0.2)
        expect(dense.metric_1_group_based_avg!).toBeGreaterThan(sparse.metric_1_group_based_avg! + 0.1)
        expect(dense.n_images_subsampled).toBeGreaterThan(5 * sparse.n_images_subsampled)
      }
    }
  })

  it('stores the v2 parameters in the NPZ _metadata, keeping the phase C record chain', async () => {
    const md = await readNpzMetadata(path.join(phaseD, 'dose_10000/sparse/sparse_test.npz'))
    expect(md.kind).toBe('json')
    const v = (md as {value: Record<string, any>}).value
    const m = result.manifest.doses.dose_10000.views.sparse.metrics.test
    expect(v).toMatchObject({gridsize: 2, s_img: 0.140625, neighbor_count: 7, rng_seed_subsample: 456, metrics_version: '1.0', overlap_view: 'sparse', dose: 10000})
    expect(v.geometry_acceptance_bound).toBe(m.geometry_acceptance_bound)
    expect(v.effective_min_acceptance).toBe(m.effective_min_acceptance)
    // the geometry bound formula: min(bbox / (n pi D^2 / 4), 0.10)
    const data = await readNpz(path.join(phaseD, 'dose_10000/sparse/sparse_test.npz'))
    const x = Array.from(data.xcoords.data as Float64Array)
    const y = Array.from(data.ycoords.data as Float64Array)
    const bbox = (Math.max(...x) - Math.min(...x)) * (Math.max(...y) - Math.min(...y))
    expect(v.geometry_acceptance_bound).toBeCloseTo(Math.min(bbox / ((x.length * Math.PI * 38.4 ** 2) / 4), 0.1), 12)
    const tools = v.data_transformations.map((t: {tool: string}) => t.tool)
    expect(tools).toContain('transpose_rename_convert')
    expect(tools.at(-1)).toBe('overlap_views')
    expect(v.physics_parameters.nphotons).toBe(10000)
  })

  it('is deterministic: a rerun writes byte-identical NPZ files and equal metrics', async () => {
    const again = await generateOverlapViews({phaseCRoot: phaseC, outputRoot: path.join(dir, 'phase_d2'), doses: [1e3], views: [OVERLAP_VIEWS.sparse]})
    const a = again.manifest.doses.dose_1000.views.sparse
    const b = result.manifest.doses.dose_1000.views.sparse
    expect(a.files.train.sha256).toBe(b.files.train.sha256)
    expect(a.metrics).toEqual(b.metrics)
  })

  it('keeps other doses/views of an earlier run in the manifest when run for one view', async () => {
    const r = await generateOverlapViews({
      phaseCRoot: phaseC,
      outputRoot: phaseD,
      doses: [1e3],
      views: [{...OVERLAP_VIEWS.dense, name: 'custom', s_img: 0.5, gridsize: 1}],
    })
    expect(Object.keys(r.manifest.doses.dose_1000.views).sort()).toEqual(['custom', 'dense', 'sparse'])
    expect(Object.keys(r.manifest.doses)).toContain('dose_10000')
    expect(r.manifest.doses.dose_1000.views.custom.metrics.train.metric_1_group_based_avg).toBeUndefined()
  })

  it('fails clearly on a missing dose or a bad view', async () => {
    await expect(generateOverlapViews({phaseCRoot: phaseC, outputRoot: path.join(dir, 'x'), doses: [1e5], views: [OVERLAP_VIEWS.dense]})).rejects.toThrow(
      MissingInputError,
    )
    await expect(
      generateOverlapViews({phaseCRoot: phaseC, outputRoot: path.join(dir, 'x'), doses: [1e3], views: [{...OVERLAP_VIEWS.dense, s_img: 1.5}]}),
    ).rejects.toThrow(UsageError)
  })

  it('a view that keeps too few images for gs2 groups fails naming the dose, view, split and counts', async () => {
    const tiny = path.join(dir, 'tiny_c')
    await generateDoseSweep({outputRoot: tiny, doses: [1e3], nImages: 16, seed: 1, objectSize: 128, probeSize: 64, gridsize: 1, neighborCount: 7})
    await expect(generateOverlapViews({phaseCRoot: tiny, outputRoot: path.join(dir, 'tiny_d'), doses: [1e3], views: [OVERLAP_VIEWS.sparse]})).rejects.toThrow(
      /dose_1000\/sparse train \(patched_train\.npz, 1 of \d+ images kept\): gridsize=2 needs at least 4 images/,
    )
  })

  it('neighbor_count below C = gridsize² (OVERSAMPLING-001) is a usage error before anything is read or written', async () => {
    const out = path.join(dir, 'k2_d')
    await expect(
      generateOverlapViews({phaseCRoot: phaseC, outputRoot: out, doses: [1e3], views: [{...OVERLAP_VIEWS.dense, neighbor_count: 2}]}),
    ).rejects.toThrow(/view 'dense': neighbor_count=2 is less than C = gridsize² = 4 \(OVERSAMPLING-001\): pass --neighbor-count 4 or more/)
    expect(existsSync(out)).toBe(false)
  })

  it('a view file that fails its DATA-001 check is never left on disk, and a good file of an earlier run stays as it was', async () => {
    const out = path.join(dir, 'fail_d')
    await generateOverlapViews({phaseCRoot: phaseC, outputRoot: out, doses: [1e3], views: [OVERLAP_VIEWS.dense]})
    const viewDir = path.join(out, 'dose_1000/dense')
    const before = readdirSync(viewDir).sort()
    const good = readFileSync(path.join(viewDir, 'dense_train.npz'))
    const manifest = readFileSync(path.join(out, 'overlap_manifest.json'))
    // the new test split fails (a settings problem: the phase C input itself is fine)
    const failNew: typeof validateNpzFile = async (file, o) => {
      const r = await validateNpzFile(file, o)
      if (!file.includes('_test.') || !file.endsWith('.partial.npz')) return r
      return {...r, status: 'failed', findings: [...r.findings, {level: 'error', field: 'diffraction', check: 'test', message: 'injected failure'}]}
    }
    await expect(
      generateOverlapViews({phaseCRoot: phaseC, outputRoot: out, doses: [1e3], views: [{...OVERLAP_VIEWS.dense, rng_seed_subsample: 7, s_img: 0.5}], validate: failNew}),
    ).rejects.toThrow(/dose_1000\/dense\/dense_test\.npz: would fail DATA-001 validation \(failed\), so it was not written \(made from .*patched_test\.npz\):\n  diffraction: injected failure/)
    // the train split had passed, but is not swapped in alone; no temporary files are left
    expect(readdirSync(viewDir).sort()).toEqual(before)
    expect(readFileSync(path.join(viewDir, 'dense_train.npz')).equals(good)).toBe(true)
    expect(readFileSync(path.join(out, 'overlap_manifest.json')).equals(manifest)).toBe(true)
  })

  it('a bad phase C input (complex diffraction) is named as the culprit, and no phase D file is written', async () => {
    const badC = path.join(dir, 'bad_c')
    for (const split of ['train', 'test'] as const) {
      const src = findPhaseCSplit(phaseC, 1e3, split)
      const arrays = await readNpz(src)
      const d = arrays.diffraction
      const out = path.join(badC, 'dose_1000', path.basename(src))
      mkdirSync(path.dirname(out), {recursive: true})
      await writeNpz(out, {...arrays, diffraction: complex64(d.shape, new Float32Array(2 * d.data.length))})
    }
    const out = path.join(dir, 'bad_d')
    await expect(generateOverlapViews({phaseCRoot: badC, outputRoot: out, doses: [1e3], views: [OVERLAP_VIEWS.dense]})).rejects.toThrow(
      new RegExp(`^${badC.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/dose_1000/patched_train\\.npz: phase C input failed DATA-001 validation`),
    )
    expect(readdirSync(path.join(out, 'dose_1000/dense'))).toEqual([])
  })

  it.skipIf(!hasNumpy)('numpy reads the phase D files without allow_pickle', () => {
    const file = path.join(phaseD, 'dose_1000/dense/dense_train.npz')
    const r = runPython<{n: number; meta: Record<string, unknown>}>(
      `d = np.load(${JSON.stringify(file)}); out({'n': int(d['diffraction'].shape[0]), 'meta': json.loads(str(d['_metadata']))})`,
    )
    expect(r.n).toBe(result.manifest.doses.dose_1000.views.dense.metrics.train.n_images_subsampled)
    expect(r.meta.overlap_view).toBe('dense')
  })
  if (!hasNumpy) noteSkip('phase D files read by numpy', 'numpy')
})
