import os from 'node:os'
import path from 'node:path'

import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {BACKEND_CHOICES, findNativePackage, NATIVE_PACKAGES, TENSORFLOW_INSTALL_HINT} from '../model/backend.js'
import {overridesFromFlags, trainingOptionFlags} from '../config/flags.js'
import {COMPUTE_BACKENDS} from '../config/schemas.js'
import {InterruptedError, JobsFailedError, StudyError, UsageError} from '../errors.js'
import {formatDoseE} from '../pipeline/format.js'
import type {TrainingOverrides} from '../pipeline/run-job.js'
import {NOT_STARTED} from '../pipeline/executor.js'
import {trainStudy} from '../pipeline/train-study.js'
import type {TrainStudyResult} from '../pipeline/train-study.js'
import {CORE_BOUND_RUNNERS, DEFAULT_RUNNER, RUNNER_NAMES} from '../runners/registry.js'
import type {ProgressEvent} from '../runners/types.js'
import {streamRenderer} from '../model/progress.js'
import type {ProgressRenderer} from '../model/progress.js'
import {study} from '../../studies/fly64_dose_overlap/index.js'

/** Short settings for `--example`: all 9 jobs in a few minutes on 2 cores. Flags given by the user win. */
export const EXAMPLE_OVERRIDES: TrainingOverrides = {nepochs: 2, n_groups: 32, model: {n_filters_scale: 1}}
export const EXAMPLE_ARTIFACT_ROOT = path.join('study-out', 'example')

// a variable specifier: the example generator (simulation code) is loaded only for --example
const EXAMPLE_MODULE = '../../studies/fly64_dose_overlap/example.js'

interface ExampleModule {
  generateExampleStudy(
    outRoot: string,
    opts?: {seed?: number; onProgress?: (m: string) => void; toolVersion?: string; commandLine?: string[]},
  ): Promise<{phaseCRoot: string; phaseDRoot: string}>
}

export default class Train extends BaseCommand {
  static override summary = 'Phase E: train every job of the study (dose x view) and write a training manifest.'

  static override description = `Builds the job matrix from the phase C and phase D roots (per dose: baseline at gridsize 1 from phase C; dense and sparse at gridsize 2 from phase D), applies the filters, and runs each job with a runner. Jobs already complete with the same settings are not retrained (use --force). A failing job is recorded and the others still run; the exit code is then 1. training_manifest.json and skip_summary.json are written to the artifact root (a previous manifest is kept under manifests/).`

  static override examples = [
    '<%= config.bin %> train --example',
    '<%= config.bin %> train --phase-c-root data/phase_c --phase-d-root data/phase_d --artifact-root runs/phase_e --dry-run',
    '<%= config.bin %> train --phase-c-root data/phase_c --phase-d-root data/phase_d --artifact-root runs/phase_e --dose 1000 --view dense',
    '<%= config.bin %> train --phase-c-root c --phase-d-root d --artifact-root e --runner command --command "python -m ptycho_train --params {params_json} --out {artifact_dir}"',
    '<%= config.bin %> train --phase-c-root c --phase-d-root d --artifact-root e --nepochs 10 --batch-size 32 --jobs 2 --json',
  ]

  static override flags = {
    'phase-c-root': Flags.string({description: 'phase C root (dose_<d>/patched_{train,test}.npz); required unless --example'}),
    'phase-d-root': Flags.string({description: 'phase D root (dose_<d>/<view>/<view>_{train,test}.npz or {train,test}.npz); required unless --example'}),
    'artifact-root': Flags.string({description: `where jobs, logs and the manifest go; required unless --example (then default ${EXAMPLE_ARTIFACT_ROOT})`}),
    dose: Flags.string({description: 'only this dose (repeatable); narrows the design before jobs are built', multiple: true}),
    view: Flags.string({description: 'only this view: baseline, dense, sparse (repeatable)', multiple: true}),
    gridsize: Flags.integer({description: 'only this gridsize: 1 or 2 (repeatable)', multiple: true}),
    'dry-run': Flags.boolean({description: 'plan only: write the dry-run logs and manifest, train nothing', default: false}),
    runner: Flags.string({description: `who trains each job [default: ${DEFAULT_RUNNER}]`, options: [...RUNNER_NAMES]}),
    backend: Flags.string({description: 'compute backend for the runner', options: [...COMPUTE_BACKENDS], default: 'auto'}),
    command: Flags.string({description: 'command template for --runner command, e.g. "python train.py --params {params_json}"'}),
    shell: Flags.boolean({description: 'run the --command template under /bin/sh (values are quoted)', default: false}),
    timeout: Flags.integer({description: 'seconds per job before it is stopped and marked failed (0: no limit)', min: 0}),
    jobs: Flags.integer({description: 'jobs run in parallel worker processes [default: one per core for tfjs, else 1]', min: 1}),
    seed: Flags.integer({description: "base seed; each job's seed derives from it and the job [default: the design's grouping seed]", min: 0}),
    force: Flags.boolean({description: 'retrain jobs that are already complete', default: false}),
    strict: Flags.boolean({description: 'a missing phase D view is an error instead of a skip', default: false}),
    example: Flags.boolean({description: 'generate (or reuse) the example phase C/D data and train on it with short settings', default: false}),
    json: Flags.boolean({description: 'print a machine-readable summary on stdout (human lines go to stderr)', default: false}),
    ...trainingOptionFlags(),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Train)
    const cwd = process.cwd()
    const out = (line: string) => (flags.json ? this.logToStderr(line) : this.log(line))
    const info = (line: string) => this.logToStderr(line)

    const doses = flags.dose?.map((d) => Number(d))
    if (doses?.some((d) => !Number.isFinite(d) || d <= 0)) throw new UsageError(`--dose must be a positive number, got ${flags.dose?.join(', ')}`)

    checkFilterValues(flags.view, flags.gridsize)
    if (flags.command !== undefined && flags.command.trim() === '') {
      throw new UsageError('--command needs a template, e.g. --command "python train.py --params {params_json}" (got an empty string)')
    }
    if (flags.example && (flags['phase-c-root'] || flags['phase-d-root'])) {
      throw new UsageError(
        '--example makes its own phase C/D data and cannot be combined with --phase-c-root or --phase-d-root; drop --example to train on your roots',
      )
    }

    let overrides = overridesFromFlags(flags as Record<string, unknown>) as TrainingOverrides
    let {'phase-c-root': phaseCRoot, 'phase-d-root': phaseDRoot, 'artifact-root': artifactRoot} = flags
    let runner = flags.runner ?? DEFAULT_RUNNER
    if (runner === 'command' && !flags.command) throw new UsageError('--runner command needs --command "<template>"')
    if (flags.command && !flags.runner) runner = 'command'
    if (flags.command && runner !== 'command') throw new UsageError(`--command is used by --runner command only (got --runner ${runner})`)
    // before --example makes data, and in a dry run too: the plan it shows must be one that can run
    if (runner === 'tfjs') checkTfjsOptions(flags.backend, overrides)

    if (flags.example) {
      artifactRoot ??= EXAMPLE_ARTIFACT_ROOT
      if (!flags['dry-run'] || !phaseCRoot || !phaseDRoot) {
        const example = await loadExampleModule()
        const data = await example.generateExampleStudy(path.resolve(cwd, artifactRoot, 'data'), {
          onProgress: info,
          toolVersion: this.config.version,
          commandLine: ['study', 'train', ...this.argv],
        })
        phaseCRoot ??= data.phaseCRoot
        phaseDRoot ??= data.phaseDRoot
      }
      overrides = {...EXAMPLE_OVERRIDES, ...overrides, model: {...EXAMPLE_OVERRIDES.model, ...overrides.model}}
    }
    const missing = [
      ['--phase-c-root', phaseCRoot],
      ['--phase-d-root', phaseDRoot],
      ['--artifact-root', artifactRoot],
    ].filter(([, v]) => !v)
    if (missing.length > 0) throw new UsageError(`missing ${missing.map(([f]) => f).join(', ')} (or use --example)`)

    const jobs = flags.jobs ?? (CORE_BOUND_RUNNERS.has(runner) ? os.availableParallelism() : 1)

    // Ctrl-C: stop the running job, start no more, still write the manifest; a second Ctrl-C quits at once
    const controller = new AbortController()
    const onSignal = (signal: NodeJS.Signals) => {
      if (controller.signal.aborted) process.exit(130)
      info(`${signal}: stopping the running job(s) and writing the manifest (press Ctrl-C again to quit at once)`)
      controller.abort()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    let result: TrainStudyResult
    try {
      result = await trainStudy({
      study,
      phaseCRoot: phaseCRoot!,
      phaseDRoot: phaseDRoot!,
      artifactRoot: artifactRoot!,
      cwd,
      filters: {dose: doses, view: flags.view, gridsize: flags.gridsize},
      dryRun: flags['dry-run'],
      strict: flags.strict,
      runner,
      runnerOptions: {
        command: flags.command ? {command: flags.command, shell: flags.shell, timeoutS: flags.timeout} : undefined,
        timeoutS: flags.timeout,
      },
      backend: flags.backend,
      jobs,
      seed: flags.seed,
      overrides,
      force: flags.force,
      timeoutS: flags.timeout,
      commandLine: ['study', 'train', ...this.argv],
      report: out,
      log: info,
      onProgress: progressRenderer(),
      signal: controller.signal,
    })
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }

    printSummary(result, out)
    if (flags.json) this.log(JSON.stringify(jsonSummary(result), null, 2))
    if (result.interrupted > 0) {
      throw new InterruptedError(`interrupted: ${result.interrupted} job(s) did not finish; rerun the same command to continue. Manifest: ${result.manifestPath}`)
    }
    if (result.failed > 0) {
      const failed = result.manifest.jobs.filter((j) => j.status === 'failed').map((j) => `${j.key} (${j.error})`)
      throw new JobsFailedError(`${result.failed} of ${result.manifest.jobs.length} jobs failed: ${failed.join('; ')}. Manifest: ${result.manifestPath}`)
    }
  }
}

/** Unknown --view / --gridsize values are usage errors (exit 2) that list the allowed values. */
function checkFilterValues(views: string[] | undefined, gridsizes: number[] | undefined): void {
  const knownViews = study.views.map((v) => v.name)
  const badViews = (views ?? []).filter((v) => !knownViews.includes(v))
  if (badViews.length > 0) throw new UsageError(`--view ${badViews.join(', ')}: unknown view; expected one of ${knownViews.join(', ')}`)
  const knownGridsizes = [...new Set(study.views.map((v) => v.gridsize))].sort((a, b) => a - b)
  const badGridsizes = (gridsizes ?? []).filter((g) => !knownGridsizes.includes(g))
  if (badGridsizes.length > 0) {
    throw new UsageError(`--gridsize ${badGridsizes.join(', ')}: no view trains at that gridsize; expected one of ${knownGridsizes.join(', ')}`)
  }
}

/** What the tfjs runner cannot do is refused once, before any job starts (instead of failing every job). */
function checkTfjsOptions(backend: string, overrides: TrainingOverrides): void {
  if (!(BACKEND_CHOICES as readonly string[]).includes(backend)) {
    throw new UsageError(
      `--backend ${backend} is not a TensorFlow.js backend: the tfjs runner takes ${BACKEND_CHOICES.join(', ')} (${backend} is recorded for --runner command only)`,
    )
  }
  if (backend === 'tensorflow' && !findNativePackage()) {
    throw new UsageError(`--backend tensorflow: neither ${NATIVE_PACKAGES.join(' nor ')} is installed. To use it, ${TENSORFLOW_INSTALL_HINT}`)
  }
  const sigma = (overrides.model as Record<string, unknown> | undefined)?.gaussian_smoothing_sigma
  if (typeof sigma === 'number' && sigma !== 0) {
    throw new UsageError(`--gaussian-smoothing-sigma ${sigma}: the tfjs runner supports only 0 (as in the study)`)
  }
}

async function loadExampleModule(): Promise<ExampleModule> {
  try {
    return (await import(EXAMPLE_MODULE)) as ExampleModule
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String(error).includes('example')) {
      throw new StudyError('--example is not available in this build (studies/fly64_dose_overlap/example.ts is missing)', {cause: error})
    }
    throw error
  }
}

function printSummary(result: TrainStudyResult, out: (line: string) => void): void {
  const m = result.manifest
  const s = m.summary
  const notStarted = m.jobs.filter((j) => j.status === 'interrupted' && j.error === NOT_STARTED).length
  const parts = [
    s.succeeded ? `${s.succeeded} trained` : '',
    s.complete ? `${s.complete} already complete` : '',
    s.dry_run ? `${s.dry_run} planned (dry run)` : '',
    s.failed ? `${s.failed} failed` : '',
    s.interrupted ? `${s.interrupted} interrupted${notStarted ? ` (${notStarted} of them not started)` : ''}` : '',
    m.skipped_count ? `${m.skipped_count} view(s) skipped for missing data` : '',
  ].filter(Boolean)
  out(`${s.selected} job(s): ${parts.join(', ')}`)
  out(`Manifest: ${result.manifestPath}`)
}

function jsonSummary(result: TrainStudyResult) {
  const m = result.manifest
  return {
    manifest_path: result.manifestPath,
    skip_summary_path: result.skipSummaryPath,
    artifact_root: m.roots.artifact.resolved,
    dry_run: m.dry_run,
    runner: m.runner,
    backend: m.backend,
    summary: m.summary,
    jobs: m.jobs.map((j) => ({
      key: j.key,
      dose: j.dose,
      view: j.view,
      gridsize: j.gridsize,
      status: j.status,
      error: j.error,
      artifact_dir: j.artifact_dir,
      log_path: j.log_path,
      duration_s: j.duration_s,
      bundle_path: typeof j.result.bundle_path === 'string' ? `${j.artifact_dir}/${j.result.bundle_path}` : null,
      bundle_sha256: j.result.bundle_sha256 ?? null,
      final_loss: j.result.final_loss ?? null,
    })),
    skipped_views: m.skipped_views,
  }
}

/**
 * Live progress on stderr, one renderer per job: a rewritten line on a terminal; otherwise (a log file, a pipe)
 * one plain line per finished epoch, not one per training step.
 */
function progressRenderer() {
  const renderers = new Map<string, ProgressRenderer>()
  return (entry: {view: string; dose: number; gridsize: number}, e: ProgressEvent) => {
    const label = `${entry.view} dose=${formatDoseE(entry.dose)} gs${entry.gridsize}`
    let r = renderers.get(label)
    if (!r) {
      r = streamRenderer(process.stderr, label)
      renderers.set(label, r)
    }
    if (e.message === 'done') r.epochEnd(e)
    else r.update(e)
  }
}
