/**
 * STUDY-SYNTH-FLY64-DOSE-OVERLAP-001 as the training engine sees it: the design (phase A), the views
 * trained in phase E and the phase C/D/E file layout (spec §6.1-6.2).
 */
import type {Split, TrainingLayout, TrainingStudy, TrainingViewSpec} from '../../src/pipeline/study.js'
import {StudyDesign, getStudyDesign} from './design.js'
import type {StudyDesignInit} from './design.js'

export {StudyDesign, StudyDesignError, getStudyDesign} from './design.js'

export const STUDY_NAME = 'fly64_dose_overlap'

/** `dose_{int(dose)}` as the reference names dose folders */
export function doseDirName(dose: number): string {
  return `dose_${Math.trunc(dose)}`
}

export const fly64Layout: TrainingLayout = {
  doseDir: doseDirName,
  splitFileCandidates(view: TrainingViewSpec, split: Split): string[] {
    // phase C: patched_{split}.npz; phase D: v1 name {view}_{split}.npz first, then the v2 name {split}.npz
    return view.source === 'phase_c' ? [`patched_${split}.npz`] : [`${view.name}_${split}.npz`, `${split}.npz`]
  },
  viewDataDir(view: TrainingViewSpec, dose: number): string[] {
    return view.source === 'phase_c' ? [doseDirName(dose)] : [doseDirName(dose), view.name]
  },
  artifactDir(view: TrainingViewSpec, dose: number): string[] {
    return [doseDirName(dose), view.name, `gs${view.gridsize}`]
  },
  logFileName: 'train.log',
}

/** baseline from phase C at the smallest gridsize, then each overlap view from phase D at the largest */
export function trainingViews(design: StudyDesign): TrainingViewSpec[] {
  const gsMin = Math.min(...design.gridsizes)
  const gsMax = Math.max(...design.gridsizes)
  return [
    {name: 'baseline', gridsize: gsMin, source: 'phase_c'},
    ...Object.keys(design.overlap_views).map((name) => ({name, gridsize: gsMax, source: 'phase_d' as const})),
  ]
}

/** The study for the training engine, from a validated design. */
export function createTrainingStudy(init: StudyDesignInit = {}): TrainingStudy {
  const design = getStudyDesign(init)
  return {
    name: STUDY_NAME,
    design,
    views: trainingViews(design),
    layout: fly64Layout,
    defaultSeed: design.rng_seeds.grouping,
    designDict: () => ({...design.toDict()}),
  }
}

export const study: TrainingStudy = createTrainingStudy()
