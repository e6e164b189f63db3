/**
 * Phase A of STUDY-SYNTH-FLY64-DOSE-OVERLAP-001: the study design constants and their validation
 * (spec §2, reference `studies/fly64_dose_overlap/design.py`).
 */
import {ContractError} from '../../src/errors.js'

/** A design rule was broken (the reference raises ValueError). Exit code: contract. */
export class StudyDesignError extends ContractError {
  constructor(message: string) {
    super(undefined, undefined, message)
  }
}

export interface MetricsConfig {
  ms_ssim_sigma: number
  emphasize_phase: boolean
  report_amplitude: boolean
  frc_threshold: number
}

export interface StudyDesignInit {
  /** photons per exposure */
  dose_list?: number[]
  gridsizes?: number[]
  /** K for K-NN; must be >= C = gridsize^2 for gs=2 */
  neighbor_count?: number
  /** N: nominal patch size from fly64 reconstructions */
  patch_size_pixels?: number
  /** view name -> overlap fraction f in [0, 1) */
  overlap_views?: Record<string, number>
  train_test_split_axis?: string
  rng_seeds?: Record<string, number>
  metrics_config?: MetricsConfig
}

export interface StudyDesignDict {
  dose_list: number[]
  gridsizes: number[]
  neighbor_count: number
  patch_size_pixels: number
  overlap_views: Record<string, number>
  spacing_thresholds: Record<string, number>
  train_test_split_axis: string
  rng_seeds: Record<string, number>
  metrics_config: MetricsConfig
}

export const DEFAULT_DOSE_LIST = [1e3, 1e4, 1e5]
export const DEFAULT_GRIDSIZES = [1, 2]
export const DEFAULT_OVERLAP_VIEWS: Record<string, number> = {dense: 0.7, sparse: 0.2}
export const DEFAULT_RNG_SEEDS: Record<string, number> = {simulation: 42, grouping: 123, subsampling: 456}
export const DEFAULT_METRICS_CONFIG: MetricsConfig = {
  ms_ssim_sigma: 1.0,
  emphasize_phase: true,
  report_amplitude: true,
  frc_threshold: 0.5,
}

/**
 * Control knobs named by the later plan text (not part of design.py): planned sweep values.
 * "Labels such as 'dense' or 'sparse' are legacy shorthands only."
 */
export const PLANNED_CONTROL_KNOBS = Object.freeze({s_img: [1.0, 0.8, 0.6], n_groups: [512, 768, 1024]})

/** spacing threshold of a view: (1 - f) * N pixels (dense 38.4 px, sparse 102.4 px at N = 128) */
export function spacingThreshold(overlapFraction: number, patchSize: number): number {
  return (1.0 - overlapFraction) * patchSize
}

export class StudyDesign {
  dose_list: number[]
  gridsizes: number[]
  neighbor_count: number
  patch_size_pixels: number
  overlap_views: Record<string, number>
  /** derived from overlap_views and patch_size_pixels at construction (the reference's __post_init__) */
  readonly spacing_thresholds: Record<string, number>
  train_test_split_axis: string
  rng_seeds: Record<string, number>
  metrics_config: MetricsConfig

  constructor(init: StudyDesignInit = {}) {
    this.dose_list = [...(init.dose_list ?? DEFAULT_DOSE_LIST)]
    this.gridsizes = [...(init.gridsizes ?? DEFAULT_GRIDSIZES)]
    this.neighbor_count = init.neighbor_count ?? 7
    this.patch_size_pixels = init.patch_size_pixels ?? 128
    this.overlap_views = {...(init.overlap_views ?? DEFAULT_OVERLAP_VIEWS)}
    this.train_test_split_axis = init.train_test_split_axis ?? 'y'
    this.rng_seeds = {...(init.rng_seeds ?? DEFAULT_RNG_SEEDS)}
    this.metrics_config = {...(init.metrics_config ?? DEFAULT_METRICS_CONFIG)}
    const thresholds: Record<string, number> = {}
    for (const [view, f] of Object.entries(this.overlap_views)) thresholds[view] = spacingThreshold(f, this.patch_size_pixels)
    this.spacing_thresholds = thresholds
  }

  /** The reference's validate(): throws StudyDesignError with the reference messages. */
  validate(): void {
    const maxGridsize = Math.max(...this.gridsizes)
    const C = maxGridsize ** 2
    if (this.neighbor_count < C) {
      throw new StudyDesignError(
        `neighbor_count=${this.neighbor_count} must be ≥ C=${C} (gridsize²=${maxGridsize}²) for K-choose-C oversampling`,
      )
    }
    for (const [view, f] of Object.entries(this.overlap_views)) {
      if (!(f >= 0.0 && f < 1.0)) throw new StudyDesignError(`overlap_views['${view}']=${f} must be in [0, 1)`)
    }
    for (const [view, threshold] of Object.entries(this.spacing_thresholds)) {
      if (!(threshold > 0)) throw new StudyDesignError(`spacing_thresholds['${view}']=${threshold} must be > 0`)
    }
    if (this.dose_list.length === 0) throw new StudyDesignError('dose_list must not be empty')
    if (!this.dose_list.every((d) => d > 0)) throw new StudyDesignError('All doses must be positive')
  }

  toDict(): StudyDesignDict {
    return {
      dose_list: [...this.dose_list],
      gridsizes: [...this.gridsizes],
      neighbor_count: this.neighbor_count,
      patch_size_pixels: this.patch_size_pixels,
      overlap_views: {...this.overlap_views},
      spacing_thresholds: {...this.spacing_thresholds},
      train_test_split_axis: this.train_test_split_axis,
      rng_seeds: {...this.rng_seeds},
      metrics_config: {...this.metrics_config},
    }
  }
}

/** The study's design, validated (the reference's get_study_design()). */
export function getStudyDesign(init: StudyDesignInit = {}): StudyDesign {
  const design = new StudyDesign(init)
  design.validate()
  return design
}
