/**
 * What the training engine needs to know about a study, as data. The engine knows nothing of fly64:
 * a study (studies/<name>/index.ts) supplies its design's dose list, its views and its file layout.
 */

export type Split = 'train' | 'test'

/** Where a view's training data comes from. */
export type ViewSource = 'phase_c' | 'phase_d'

export interface TrainingViewSpec {
  /** view name as it appears in paths and manifests, e.g. 'baseline', 'dense' */
  name: string
  /** the only gridsize this view trains at */
  gridsize: number
  source: ViewSource
}

/** The part of a study design the engine uses. */
export interface StudyDesignLike {
  readonly dose_list: readonly number[]
}

export interface TrainingLayout {
  /** folder name of a dose, e.g. 'dose_1000' */
  doseDir(dose: number): string
  /** candidate file names for a split, most preferred first; paths relative to the view's data folder */
  splitFileCandidates(view: TrainingViewSpec, split: Split): string[]
  /** data folder of a view below its phase root, as path segments, e.g. ['dose_1000', 'dense'] */
  viewDataDir(view: TrainingViewSpec, dose: number): string[]
  /** artifact folder of a job below the artifact root, as path segments, e.g. ['dose_1000', 'dense', 'gs2'] */
  artifactDir(view: TrainingViewSpec, dose: number): string[]
  /** name of the job's log file inside its artifact folder */
  logFileName: string
}

export interface TrainingStudy {
  /** identifier recorded in manifests, e.g. 'fly64_dose_overlap' */
  name: string
  design: StudyDesignLike
  /** views in job order for each dose */
  views: readonly TrainingViewSpec[]
  layout: TrainingLayout
  /** base seed of training when the user gives none */
  defaultSeed: number
  /** the design as plain data, recorded in the manifest */
  designDict(): Record<string, unknown>
}

/** A study whose dose list is narrowed to `doses` (the reference's `--dose` rewrite of design.dose_list). */
export function narrowDoses(study: TrainingStudy, doses: readonly number[]): TrainingStudy {
  const design = {...study.design, dose_list: [...doses]}
  return {...study, design, designDict: () => ({...study.designDict(), dose_list: [...doses]})}
}
