import {existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it, vi} from 'vitest'

import {updateLegacyDict} from '../../src/config/legacy.js'
import type {LegacyDict} from '../../src/config/legacy.js'
import type {TrainingConfig} from '../../src/config/schemas.js'
import {ContractError, EXIT, NoMatchError} from '../../src/errors.js'
import {SkipSummarySchema, TrainingManifestSchema, writeTrainingManifest} from '../../src/pipeline/manifest.js'
import {trainStudy} from '../../src/pipeline/train-study.js'
import type {TrainStudyInput} from '../../src/pipeline/train-study.js'
import {createStubRunner} from '../../src/runners/stub-runner.js'
import type {RunnerContext} from '../../src/runners/types.js'
import {study} from '../../studies/fly64_dose_overlap/index.js'
import {makeStudyTree, tempDir} from './fixtures.js'

function input(tree: ReturnType<typeof makeStudyTree>, extra: Partial<TrainStudyInput> = {}): TrainStudyInput {
  return {
    study,
    phaseCRoot: tree.phaseC,
    phaseDRoot: tree.phaseD,
    artifactRoot: tree.artifacts,
    cwd: tree.base,
    runner: 'stub',
    overrides: {nepochs: 3},
    ...extra,
  }
}

const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'))

function allFiles(dir: string): string[] {
  return readdirSync(dir, {recursive: true, withFileTypes: true})
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath, d.name))
}

describe('trainStudy filters (test_training_cli_filters_jobs)', () => {
  const tree = makeStudyTree(tempDir())
  const cases: [string, TrainStudyInput['filters'], number][] = [
    ['no filter', {}, 9],
    ['--dose 1000', {dose: [1000]}, 3],
    ['--view baseline', {view: ['baseline']}, 3],
    ['--gridsize 2', {gridsize: [2]}, 6],
    ['--dose 1000 --dose 100000', {dose: [1000, 100000]}, 6],
    ['--view dense --gridsize 2', {view: ['dense'], gridsize: [2]}, 3],
    ['--dose 10000 --view sparse', {dose: [10000], view: ['sparse']}, 1],
    ['--view baseline --view sparse --dose 1000', {view: ['baseline', 'sparse'], dose: [1000]}, 2],
  ]
  for (const [name, filters, n] of cases) {
    it(`${name} -> ${n} jobs (dry run)`, async () => {
      const bridge = vi.fn()
      const runner = vi.fn()
      const r = await trainStudy(input(tree, {filters, dryRun: true, bridge, runnerInstance: runner}))
      expect(r.manifest.jobs).toHaveLength(n)
      expect(r.manifest.jobs.every((j) => j.status === 'dry-run' && j.backend === 'auto')).toBe(true)
      expect(bridge).not.toHaveBeenCalled()
      expect(runner).not.toHaveBeenCalled()
      for (const j of r.manifest.jobs) {
        if (filters?.dose) expect(filters.dose).toContain(j.dose)
        if (filters?.view) expect(filters.view).toContain(j.view)
        if (filters?.gridsize) expect(filters.gridsize).toContain(j.gridsize)
      }
    })
  }

  it('a real run calls the bridge exactly once per job, each with a TrainingConfig, before its runner call', async () => {
    const t = makeStudyTree(tempDir())
    const events: string[] = []
    const bridge = vi.fn((dict: LegacyDict, config: TrainingConfig) => {
      events.push(`bridge ${config.model.gridsize} ${config.nphotons}`)
      return updateLegacyDict(dict, config)
    })
    const calls: RunnerContext[] = []
    const stub = createStubRunner({calls})
    const runner = vi.fn(async (ctx: RunnerContext) => {
      events.push(`runner ${ctx.job.gridsize} ${ctx.job.dose}`)
      return stub(ctx)
    })
    const r = await trainStudy(input(t, {bridge, runnerInstance: runner}))
    expect(r.failed).toBe(0)
    expect(bridge).toHaveBeenCalledTimes(9)
    expect(runner).toHaveBeenCalledTimes(9)
    for (let i = 0; i < 9; i++) {
      expect(events[2 * i].replace('bridge', '')).toBe(events[2 * i + 1].replace('runner', ''))
      const config = bridge.mock.calls[i][1]
      expect(config.backend).toBe('tensorflow')
      expect(config.nepochs).toBe(3)
    }
    expect(calls.map((c) => c.backend)).toEqual(Array(9).fill('auto'))
  })
})

describe('trainStudy manifest (test_training_cli_manifest_and_bridging, test_training_cli_records_bundle_path)', () => {
  it('missing sparse for dose 1000: 2 jobs, 1 skipped view, skip summary equal to the manifest', async () => {
    const tree = makeStudyTree(tempDir(), {missing: ['dose_1000/sparse']})
    const calls: RunnerContext[] = []
    const r = await trainStudy(input(tree, {filters: {dose: [1000]}, runnerInstance: createStubRunner({calls})}))
    const manifest = readJson(path.join(tree.artifacts, 'training_manifest.json'))
    expect(manifest.jobs).toHaveLength(2)
    expect(manifest.jobs.map((j: {view: string}) => j.view)).toEqual(['baseline', 'dense'])
    for (const j of manifest.jobs) {
      for (const k of ['dose', 'view', 'gridsize', 'train_data_path', 'test_data_path', 'log_path', 'artifact_dir', 'backend', 'result']) {
        expect(j).toHaveProperty(k)
      }
      expect(j.dose).toBe(1000)
    }
    expect(manifest.skipped_views).toHaveLength(1)
    expect(manifest.skipped_views[0]).toMatchObject({dose: 1000, view: 'sparse'})
    expect(manifest.skipped_views[0].reason).toMatch(/not found|missing/)
    expect(manifest.skipped_count).toBe(1)
    expect(manifest.skip_summary_path).toBe('skip_summary.json')
    const skip = readJson(path.join(tree.artifacts, manifest.skip_summary_path))
    expect(skip.skipped_views).toEqual(manifest.skipped_views)
    expect(skip.skipped_count).toBe(manifest.skipped_count)
    expect(skip.timestamp).toBe(manifest.timestamp)
    expect(calls).toHaveLength(2)
    expect(calls.every((c) => c.config.backend === 'tensorflow')).toBe(true)
    expect(r.manifest.plan.find((p) => p.view === 'sparse')?.status).toBe('missing-input')
  })

  it('records bundle path (relative), sha256 and size, and prints the Bundle/SHA256/Size lines', async () => {
    const tree = makeStudyTree(tempDir())
    const lines: string[] = []
    await trainStudy(input(tree, {filters: {dose: [1000], view: ['baseline', 'dense']}, runnerInstance: createStubRunner(), report: (l) => lines.push(l)}))
    const manifest = readJson(path.join(tree.artifacts, 'training_manifest.json'))
    expect(manifest.jobs).toHaveLength(2)
    for (const j of manifest.jobs) {
      expect(j.result.bundle_path).toBe('wts.h5.zip')
      expect(j.result.bundle_sha256).toMatch(/^[0-9a-f]{64}$/)
      expect(Number.isInteger(j.result.bundle_size_bytes) && j.result.bundle_size_bytes > 0).toBe(true)
      expect(existsSync(path.join(tree.artifacts, j.artifact_dir, j.result.bundle_path))).toBe(true)
      // the input NPZs as trained
      expect(j.inputs.train.sha256).toMatch(/^[0-9a-f]{64}$/)
      expect(j.inputs.train.size_bytes).toBeGreaterThan(0)
      expect(path.resolve(tree.artifacts, j.inputs.train.path)).toBe(path.resolve(tree.artifacts, j.train_data_path))
    }
    const bundle = lines.filter((l) => l.includes('→ Bundle'))
    const sha = lines.filter((l) => l.includes('→ SHA256'))
    const size = lines.filter((l) => l.includes('→ Size'))
    expect(bundle).toEqual(['    → Bundle [baseline/dose=1e+03]: wts.h5.zip', '    → Bundle [dense/dose=1e+03]: wts.h5.zip'])
    expect(sha).toHaveLength(2)
    expect(size).toHaveLength(2)
    sha.forEach((l, i) => expect(l.endsWith(manifest.jobs[i].result.bundle_sha256)).toBe(true))
    size.forEach((l, i) => expect(l).toBe(`    → Size [${manifest.jobs[i].view}/dose=1e+03]: ${manifest.jobs[i].result.bundle_size_bytes} bytes`))
  })

  it("prints the outcome of a job's end-of-job reconstruction: a failure as a '!' line, a success with its scores", async () => {
    const tree = makeStudyTree(tempDir())
    const lines: string[] = []
    const recon = {
      baseline: {status: 'failed', error: 'UsageError: n_groups=99 exceeds the 38 scan positions'},
      dense: {status: 'success', npz_path: 'reconstruction/reconstruction.npz', metrics: {correlation: {amplitude: 0.51234, phase: 0.4}}},
    }
    const runnerInstance = async (ctx: RunnerContext) => ({status: 'success', reconstruction: recon[ctx.job.view as 'baseline' | 'dense']})
    await trainStudy(input(tree, {filters: {dose: [1000], view: ['baseline', 'dense'], gridsize: [1, 2]}, runnerInstance, report: (l) => lines.push(l)}))
    expect(lines).toContain(
      '    ! reconstruction of the test split failed [baseline/dose=1e+03]: UsageError: n_groups=99 exceeds the 38 scan positions (training succeeded; see train.log)',
    )
    expect(lines).toContain('    → Reconstruction [dense/dose=1e+03]: reconstruction/reconstruction.npz (vs ground truth: amplitude correlation 0.512, phase correlation 0.400)')
  })

  it("prints a runner's warnings under its job (e.g. a command that wrote no bundle)", async () => {
    const tree = makeStudyTree(tempDir())
    const lines: string[] = []
    const runnerInstance = async () => ({status: 'success', warnings: ['no bundle written (wts.h5.zip not found)']})
    await trainStudy(input(tree, {filters: {dose: [1000], view: ['baseline']}, runnerInstance, report: (l) => lines.push(l)}))
    expect(lines).toContain('    ! no bundle written (wts.h5.zip not found) [baseline/dose=1e+03]')
  })

  it('has the provenance fields, relative POSIX paths and validates against its schema', async () => {
    const tree = makeStudyTree(tempDir())
    await trainStudy(input(tree, {filters: {view: ['baseline']}, runnerInstance: createStubRunner(), seed: 5, commandLine: ['study', 'train']}))
    const manifest = readJson(path.join(tree.artifacts, 'training_manifest.json'))
    expect(TrainingManifestSchema.safeParse(manifest).success).toBe(true)
    expect(SkipSummarySchema.safeParse(readJson(path.join(tree.artifacts, 'skip_summary.json'))).success).toBe(true)
    expect(manifest).toMatchObject({
      schema_version: 1,
      tool: {name: 'study'},
      study: 'fly64_dose_overlap',
      command_line: ['study', 'train'],
      node_version: process.version,
      dry_run: false,
      runner: 'stub',
      seeds: {base: 5, source: 'flag'},
      filters: {dose: null, view: ['baseline'], gridsize: null},
      phase_c_root: tree.phaseC,
    })
    expect(manifest.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/)
    expect(Date.parse(manifest.finished_at)).toBeGreaterThanOrEqual(Date.parse(manifest.started_at))
    for (const j of manifest.jobs) {
      for (const k of ['train_data_path', 'test_data_path', 'log_path', 'artifact_dir']) {
        expect(path.isAbsolute(j[k])).toBe(false)
        expect(j[k]).not.toContain('\\')
      }
      expect(j.artifact_dir).toBe(`dose_${j.dose}/baseline/gs1`)
      expect(j.log_path).toBe(`dose_${j.dose}/baseline/gs1/train.log`)
      expect(j.train_data_path).toBe(`../phase_c/dose_${j.dose}/patched_train.npz`)
      expect(j.status).toBe('success')
      expect(j.duration_s).toBeGreaterThanOrEqual(0)
    }
    // per-job seeds depend on the base seed and the job only
    const seeds = manifest.jobs.map((j: {seed: number}) => j.seed)
    expect(new Set(seeds).size).toBe(3)
    const again = await trainStudy(input(makeStudyTree(tempDir()), {filters: {view: ['baseline'], dose: [10000]}, dryRun: true, seed: 5}))
    expect(again.manifest.jobs[0].seed).toBe(seeds[1])
  })
})

describe('trainStudy failures', () => {
  it('a failing job (reported or thrown) is marked failed with its error, the others still run', async () => {
    for (const failMode of ['report', 'throw'] as const) {
      const tree = makeStudyTree(tempDir())
      const r = await trainStudy(input(tree, {runnerInstance: createStubRunner({fail: ['dense@10000'], failMode})}))
      expect(r.failed).toBe(1)
      const manifest = readJson(path.join(tree.artifacts, 'training_manifest.json'))
      expect(manifest.jobs).toHaveLength(9)
      const failed = manifest.jobs.filter((j: {status: string}) => j.status === 'failed')
      expect(failed).toHaveLength(1)
      expect(failed[0]).toMatchObject({view: 'dense', dose: 10000})
      expect(failed[0].error).toMatch(/stub failure requested for dense@10000/)
      expect(manifest.summary).toMatchObject({selected: 9, succeeded: 8, failed: 1})
      expect(readFileSync(path.join(tree.artifacts, failed[0].log_path), 'utf8')).toMatch(/Job failed: stub failure/)
      // the failed job has no completion record; the others do
      expect(existsSync(path.join(tree.artifacts, failed[0].artifact_dir, 'job_record.json'))).toBe(false)
      expect(existsSync(path.join(tree.artifacts, 'dose_100000/sparse/gs2/job_record.json'))).toBe(true)
    }
  })

  it('--force on a finished job that then fails: the job is incomplete, its earlier record is kept as job_record.previous.json', async () => {
    const tree = makeStudyTree(tempDir())
    const filters = {dose: [1000], view: ['baseline']}
    await trainStudy(input(tree, {filters, runnerInstance: createStubRunner()}))
    const dir = path.join(tree.artifacts, 'dose_1000/baseline/gs1')
    const first = readJson(path.join(dir, 'job_record.json'))
    expect(first.status).toBe('success')
    const r = await trainStudy(input(tree, {filters, force: true, runnerInstance: createStubRunner({fail: ['baseline@1000']})}))
    expect(r.failed).toBe(1)
    expect(existsSync(path.join(dir, 'job_record.json'))).toBe(false)
    expect(readJson(path.join(dir, 'job_record.previous.json'))).toEqual(first)
  })

  it('--strict: a missing phase D view is a MissingInputError (exit 3) instead of a skip; nothing written', async () => {
    const tree = makeStudyTree(tempDir(), {missing: ['dose_1000/sparse']})
    const err = await trainStudy(input(tree, {strict: true, dryRun: true})).catch((e: unknown) => e)
    expect((err as {exitCode?: number}).exitCode).toBe(EXIT.missingInput)
    expect((err as Error).message).toMatch(/^Training dataset not found: .*dose_1000\/sparse\/train\.npz \(also looked for .*dose_1000\/sparse\/sparse_train\.npz\)$/)
    expect(existsSync(tree.artifacts)).toBe(false)
  })

  it('invalid training options fail before any job with a ContractError naming the field', async () => {
    const tree = makeStudyTree(tempDir())
    const err = await trainStudy(input(tree, {overrides: {batch_size: 3}})).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ContractError)
    expect((err as Error).message).toMatch(/training options.*\n.*batch_size/s)
    expect(existsSync(tree.artifacts)).toBe(false)
  })

  it('no match: NoMatchError naming the filters and the existing values; no manifest written', async () => {
    const tree = makeStudyTree(tempDir(), {missing: ['dose_1000/sparse']})
    for (const filters of [{view: ['nope']}, {dose: [5000]}, {gridsize: [3]}, {dose: [1000], view: ['sparse']}]) {
      const err = await trainStudy(input(tree, {filters})).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(NoMatchError)
      expect((err as NoMatchError).exitCode).toBe(EXIT.noMatch)
      const msg = (err as Error).message
      expect(msg).toMatch(/No jobs match the specified filters/)
      expect(msg).toContain('--dose 1000, 10000, 100000')
      expect(msg).toContain('--view baseline, dense, sparse')
      expect(msg).toContain('--gridsize 1, 2')
      if (filters.view) expect(msg).toContain(`--view ${filters.view[0]}`)
    }
    const last = await trainStudy(input(tree, {filters: {dose: [1000], view: ['sparse']}})).catch((e: Error) => e.message)
    expect(last).toContain('Skipped for missing phase D data: sparse (dose=1e+03)')
    expect(existsSync(path.join(tree.artifacts, 'training_manifest.json'))).toBe(false)
  })
})

describe('trainStudy reruns', () => {
  it('a rerun skips complete jobs, reruns changed or failed ones, and archives the previous manifest', async () => {
    const tree = makeStudyTree(tempDir())
    const first = await trainStudy(input(tree, {filters: {dose: [1000]}, runnerInstance: createStubRunner({fail: ['sparse']})}))
    expect(first.failed).toBe(1)
    const calls: RunnerContext[] = []
    const second = await trainStudy(input(tree, {filters: {dose: [1000]}, runnerInstance: createStubRunner({calls})}))
    expect(calls.map((c) => c.job.view)).toEqual(['sparse'])
    expect(second.manifest.jobs.map((j) => j.status)).toEqual(['complete', 'complete', 'success'])
    expect(second.manifest.jobs[0].result.bundle_sha256).toBe(first.manifest.jobs[0].result.bundle_sha256)
    expect(second.manifest.previous_manifest).toMatch(/^manifests\/training_manifest\..*\.json$/)
    expect(readJson(path.join(tree.artifacts, second.manifest.previous_manifest!))).toEqual(first.manifest)

    // a changed setting makes the jobs run again; --force reruns everything
    const calls3: RunnerContext[] = []
    await trainStudy(input(tree, {filters: {dose: [1000]}, overrides: {nepochs: 4}, runnerInstance: createStubRunner({calls: calls3})}))
    expect(calls3).toHaveLength(3)
    expect(calls3.map((c) => c.fresh)).toEqual([false, false, false]) // a plain rerun may resume
    const calls4: RunnerContext[] = []
    await trainStudy(input(tree, {filters: {dose: [1000]}, overrides: {nepochs: 4}, force: true, runnerInstance: createStubRunner({calls: calls4})}))
    expect(calls4).toHaveLength(3)
    expect(calls4.map((c) => c.fresh)).toEqual([true, true, true]) // --force: runners start from scratch
    // a dry run shows the plan: everything complete
    const dry = await trainStudy(input(tree, {filters: {dose: [1000]}, overrides: {nepochs: 4}, dryRun: true}))
    expect(dry.manifest.plan.filter((p) => p.dose === 1000).map((p) => p.status)).toEqual(['complete', 'complete', 'complete'])
    // and never overwrote the real training logs
    expect(readFileSync(path.join(tree.artifacts, 'dose_1000/baseline/gs1/train.log'), 'utf8')).toMatch(/stub runner/)
    expect(readdirSync(path.join(tree.artifacts, 'manifests'))).toHaveLength(4)

    // a deleted or truncated bundle makes its job incomplete again
    rmSync(path.join(tree.artifacts, 'dose_1000/dense/gs2/wts.h5.zip'))
    writeFileSync(path.join(tree.artifacts, 'dose_1000/sparse/gs2/wts.h5.zip'), 'short')
    const calls5: RunnerContext[] = []
    await trainStudy(input(tree, {filters: {dose: [1000]}, overrides: {nepochs: 4}, runnerInstance: createStubRunner({calls: calls5})}))
    expect(calls5.map((c) => c.job.view)).toEqual(['dense', 'sparse'])
  })
})

describe('artifact root lock', () => {
  it('a second concurrent run on the same artifact root is refused; a stale lock is taken over; the lock is released', async () => {
    const tree = makeStudyTree(tempDir())
    const first = trainStudy(input(tree, {filters: {dose: [1000]}, runnerInstance: createStubRunner({delayMs: 300})}))
    await new Promise((r) => setTimeout(r, 100))
    const err = await trainStudy(input(tree, {filters: {dose: [10000]}, runnerInstance: createStubRunner()})).catch((e: unknown) => e)
    expect((err as Error).message).toMatch(/another 'study train' \(pid \d+\) is using/)
    expect((err as {exitCode: number}).exitCode).toBe(EXIT.usage)
    expect((await first).failed).toBe(0)
    expect(existsSync(path.join(tree.artifacts, '.study-train.lock'))).toBe(false)
    writeFileSync(path.join(tree.artifacts, '.study-train.lock'), '999999999\n') // a process that does not exist
    const r = await trainStudy(input(tree, {filters: {dose: [10000]}, runnerInstance: createStubRunner()}))
    expect(r.failed).toBe(0)
    expect(existsSync(path.join(tree.artifacts, '.study-train.lock'))).toBe(false)
  })
})

describe('path safety', () => {
  it('roots with spaces, unicode and .. segments, given relative to cwd, and symlinked roots', async () => {
    const base = tempDir()
    const weird = path.join(base, 'my data', 'ünïcødé ✓')
    const tree = makeStudyTree(weird)
    const link = path.join(base, 'linked phase d')
    symlinkSync(tree.phaseD, link)
    const cwd = path.join(base, 'my data')
    const r = await trainStudy({
      ...input(tree, {runnerInstance: createStubRunner()}),
      cwd,
      phaseCRoot: path.join('ünïcødé ✓', 'phase_c'),
      phaseDRoot: path.join('..', 'linked phase d'),
      artifactRoot: path.join('ünïcødé ✓', 'sub', '..', 'out dir'),
    })
    expect(r.failed).toBe(0)
    const out = path.join(weird, 'out dir')
    const manifest = readJson(path.join(out, 'training_manifest.json'))
    expect(manifest.phase_c_root).toBe(path.join('ünïcødé ✓', 'phase_c'))
    expect(manifest.roots.phase_d).toEqual({given: path.join('..', 'linked phase d'), resolved: tree.phaseD})
    expect(manifest.roots.artifact.resolved).toBe(out)
    for (const j of manifest.jobs) {
      expect(existsSync(path.join(out, j.train_data_path))).toBe(true)
      expect(existsSync(path.join(out, j.log_path))).toBe(true)
      expect(existsSync(path.join(out, j.artifact_dir, j.result.bundle_path))).toBe(true)
      expect(JSON.stringify(j)).not.toContain('[object Object]')
    }
    expect(manifest.jobs[1].train_data_path).toBe('../phase_d/dose_1000/dense/dense_train.npz')
  })
})

describe('atomic manifest writes', () => {
  it('leaves no temp files; an invalid manifest is refused and the existing one is kept intact', async () => {
    const tree = makeStudyTree(tempDir())
    const r = await trainStudy(input(tree, {filters: {view: ['baseline']}, runnerInstance: createStubRunner()}))
    expect(allFiles(tree.artifacts).filter((f) => f.endsWith('.tmp'))).toEqual([])
    const before = readFileSync(r.manifestPath, 'utf8')
    const broken = {...r.manifest, jobs: [{...r.manifest.jobs[0], log_path: '/abs/path/train.log'}]}
    const err = await writeTrainingManifest(tree.artifacts, broken).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ContractError)
    expect((err as Error).message).toMatch(/log_path/)
    expect(readFileSync(r.manifestPath, 'utf8')).toBe(before)
    expect(existsSync(path.join(tree.artifacts, 'manifests'))).toBe(false)
    expect(allFiles(tree.artifacts).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })

  it('a crash between the runner and the completion record leaves the job incomplete (it reruns)', async () => {
    const tree = makeStudyTree(tempDir())
    await trainStudy(input(tree, {filters: {dose: [1000], view: ['baseline']}, runnerInstance: createStubRunner()}))
    rmSync(path.join(tree.artifacts, 'dose_1000/baseline/gs1/job_record.json'))
    const calls: RunnerContext[] = []
    await trainStudy(input(tree, {filters: {dose: [1000], view: ['baseline']}, runnerInstance: createStubRunner({calls})}))
    expect(calls).toHaveLength(1)
    mkdirSync(path.join(tree.artifacts, 'x'), {recursive: true})
    writeFileSync(path.join(tree.artifacts, 'dose_1000/baseline/gs1/job_record.json'), '{"truncated')
    const calls2: RunnerContext[] = []
    await trainStudy(input(tree, {filters: {dose: [1000], view: ['baseline']}, runnerInstance: createStubRunner({calls: calls2})}))
    expect(calls2).toHaveLength(1)
  })

  it('repeated or reordered --dose values plan each job once, in design order (QA #17, #30)', async () => {
    const tree = makeStudyTree(tempDir())
    const r = await trainStudy(input(tree, {filters: {dose: [100000, 1000, 1e3]}, dryRun: true}))
    expect(r.manifest.jobs.map((j) => `${j.dose}/${j.view}`)).toEqual([
      '1000/baseline',
      '1000/dense',
      '1000/sparse',
      '100000/baseline',
      '100000/dense',
      '100000/sparse',
    ])
  })
})
