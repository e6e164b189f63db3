/**
 * The job matrix of phase E (spec §6.1-6.2): one TrainingJob per dose and view, with the input paths
 * found on disk and the artifact layout of the study.
 */
import {existsSync} from 'node:fs'
import path from 'node:path'

import {ContractError, MissingInputError} from '../errors.js'
import type {TrainingJob} from '../runners/types.js'
import {formatDoseE, pyBool} from './format.js'
import type {TrainingStudy, TrainingViewSpec} from './study.js'

export type {TrainingJob} from '../runners/types.js'

/** A job that breaks the study's rules (the reference raises ValueError). */
export class TrainingJobError extends ContractError {
  constructor(message: string) {
    super(undefined, undefined, message)
  }
}

/** A phase D view without data, skipped in non-strict mode. */
export interface SkipEvent {
  dose: number
  view: string
  reason: string
}

export interface StudyRoots {
  /** absolute paths */
  phaseCRoot: string
  phaseDRoot: string
  artifactRoot: string
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1)
}

/** The reference's TrainingJob.__post_init__ checks, in order, with its messages. */
export function validateTrainingJob(job: TrainingJob, views: readonly TrainingViewSpec[]): void {
  const spec = views.find((v) => v.name === job.view)
  if (!spec) {
    throw new TrainingJobError(`Invalid view '${job.view}'. Expected one of: ${views.map((v) => v.name).join(', ')}`)
  }
  if (job.gridsize !== spec.gridsize) {
    throw new TrainingJobError(
      spec.source === 'phase_c'
        ? `${capitalize(spec.name)} jobs must use gridsize=${spec.gridsize}, got ${job.gridsize}`
        : `Overlap jobs (${spec.name}) must use gridsize=${spec.gridsize}, got ${job.gridsize}`,
    )
  }
  if (!existsSync(job.trainDataPath)) throw new MissingInputError(job.trainDataPath, 'Training dataset')
  if (!existsSync(job.testDataPath)) throw new MissingInputError(job.testDataPath, 'Test dataset')
}

export interface BuildTrainingJobsOptions {
  /** true (the API default): a missing phase D view throws; false (the CLI): it becomes a skip event */
  strict?: boolean
  /** called once per skipped view with the reference's INFO line */
  log?: (line: string) => void
}

export interface BuiltTrainingJobs {
  jobs: TrainingJob[]
  skipped: SkipEvent[]
}

function chooseSplit(dataDir: string, candidates: string[]): {path: string; exists: boolean} {
  for (const name of candidates) {
    const p = path.join(dataDir, name)
    if (existsSync(p)) return {path: p, exists: true}
  }
  return {path: path.join(dataDir, candidates[candidates.length - 1]), exists: false}
}

/**
 * For each dose of the design (in order) and each view (baseline, then the overlap views): the job.
 * Phase C data must exist (missing -> MissingInputError). A phase D view whose train or test file is missing
 * (primary `{view}_{split}.npz`, then fallback `{split}.npz`) throws in strict mode and is skipped otherwise.
 */
export function buildTrainingJobs(
  study: TrainingStudy,
  roots: StudyRoots,
  options: BuildTrainingJobsOptions = {},
): BuiltTrainingJobs {
  const strict = options.strict ?? true
  const jobs: TrainingJob[] = []
  const skipped: SkipEvent[] = []
  for (const dose of study.design.dose_list) {
    for (const view of study.views) {
      const phaseRoot = view.source === 'phase_c' ? roots.phaseCRoot : roots.phaseDRoot
      const dataDir = path.join(phaseRoot, ...study.layout.viewDataDir(view, dose))
      const trainCandidates = study.layout.splitFileCandidates(view, 'train')
      const testCandidates = study.layout.splitFileCandidates(view, 'test')
      const train = chooseSplit(dataDir, trainCandidates)
      const test = chooseSplit(dataDir, testCandidates)
      if (view.source === 'phase_d' && !strict && !(train.exists && test.exists)) {
        const fallback =
          trainCandidates.length > 1 ? ` and fallback (${trainCandidates.slice(1).join('|')}/${testCandidates.slice(1).join('|')})` : ''
        const reason =
          `NPZ files not found (train=${pyBool(train.exists)}, test=${pyBool(test.exists)}). ` +
          `Checked primary (${trainCandidates[0]}/${testCandidates[0]})${fallback}.`
        options.log?.(`Skipping ${view.name} view for dose=${formatDoseE(dose)}: ${reason}`)
        skipped.push({dose, view: view.name, reason})
        continue
      }
      if (view.source === 'phase_d') {
        // strict: name every file name that was tried (the reference reports only the last, the fallback)
        for (const [split, chosen, candidates] of [
          ['Training', train, trainCandidates],
          ['Test', test, testCandidates],
        ] as const) {
          if (!chosen.exists && candidates.length > 1) {
            const tried = candidates.filter((c) => path.join(dataDir, c) !== chosen.path).map((c) => path.join(dataDir, c))
            throw new MissingInputError(chosen.path, `${split} dataset`, {detail: `also looked for ${tried.join(', ')}`})
          }
        }
      }
      const artifactDir = path.join(roots.artifactRoot, ...study.layout.artifactDir(view, dose))
      const job: TrainingJob = {
        dose,
        view: view.name,
        gridsize: view.gridsize,
        trainDataPath: train.path,
        testDataPath: test.path,
        artifactDir,
        logPath: path.join(artifactDir, study.layout.logFileName),
      }
      validateTrainingJob(job, study.views)
      jobs.push(job)
    }
  }
  return {jobs, skipped}
}

/** Stable identifier of a job, e.g. 'dose_1000/dense/gs2' (its artifact folder below the root, POSIX). */
export function jobKey(study: TrainingStudy, job: {dose: number; view: string; gridsize: number}): string {
  const view = study.views.find((v) => v.name === job.view) ?? {name: job.view, gridsize: job.gridsize, source: 'phase_d' as const}
  return study.layout.artifactDir({...view, gridsize: job.gridsize}, job.dose).join('/')
}
