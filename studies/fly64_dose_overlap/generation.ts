/**
 * Phase C defaults of the fly64 dose/overlap study: what `study generate` does with no flags.
 *
 * The defaults make a small, fast study (the example data): the built-in synthetic object (256 x 256 px) and
 * focused probe at N = 64, 512 scan positions, the design's doses and simulation seed. The fly64 scale of the
 * reference (N = 128 probe, ~464 px object, ~10,304 positions) is
 * `--probe-size 128 --object-size 464 --n-images 10304`, or `--base-npz` with the real object and probe.
 * N always comes from the probe; a mismatch with the design's nominal patch_size_pixels (128) is reported as
 * a warning in the manifest and on stderr, not an error (spec 15.1).
 */
import type {GenerateOptions} from '../../src/pipeline/generate.js'
import {getStudyDesign, type StudyDesign} from './design.js'

export const PHASE_C_DEFAULTS = Object.freeze({
  nImages: 512,
  objectSize: 256,
  probeSize: 64,
  splitFraction: 0.5,
  compress: false,
})

/** Options for generateDoseSweep from the study design, before command-line overrides. */
export function phaseCDefaults(design: StudyDesign = getStudyDesign()): Omit<GenerateOptions, 'outputRoot'> {
  const axis = design.train_test_split_axis
  return {
    doses: [...design.dose_list],
    nImages: PHASE_C_DEFAULTS.nImages,
    seed: design.rng_seeds.simulation,
    objectSize: PHASE_C_DEFAULTS.objectSize,
    probeSize: PHASE_C_DEFAULTS.probeSize,
    designPatchSize: design.patch_size_pixels,
    // the reference validates phase C splits with gridsize 1 and the design's K (generation.py, stage 5)
    gridsize: 1,
    neighborCount: design.neighbor_count,
    splitFraction: PHASE_C_DEFAULTS.splitFraction,
    splitAxis: axis === 'x' ? 'x' : 'y',
    compress: PHASE_C_DEFAULTS.compress,
  }
}
