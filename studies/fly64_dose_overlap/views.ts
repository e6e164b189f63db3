/**
 * Phase D views of the fly64 dose/overlap study: the named presets of the v2 overlap controls (spec 5.1).
 *
 * Both views are gridsize 2 (phase E trains dense and sparse at gridsize 2, spec 6.1). They differ only in
 * how densely the scan is sampled:
 * - s_img comes from the design's overlap fractions: spacing between neighbouring probe positions scales as
 *   1/sqrt(density) and the design's spacing thresholds are (1 - f) N, so keeping a fraction
 *   s_img = ((1 - f_dense) / (1 - f_view))^2 of the images multiplies the mean spacing by (1 - f_view) / (1 - f_dense).
 *   With f = {dense 0.7, sparse 0.2}: dense s_img = 1.0, sparse s_img = (0.3 / 0.8)^2 = 0.140625 (spacing x 2.67,
 *   the ratio of the design's thresholds 102.4 / 38.4 px).
 * - n_groups scales with s_img (512 dense, 72 sparse), so both views have the same number of groups per image and
 *   Metric 3 compares group layouts of equal redundancy.
 * - neighbor_count is the design's K (7); probe_diameter_px is the reference default 38.4 (0.6 * 64);
 *   rng_seed_subsample and rng_seed_grouping are the design's subsampling (456) and grouping (123) seeds.
 *
 * Not the Phase-G runner's parameters (dense: gs2 s_img 0.8; sparse: gs1 s_img 1.0): those would make the
 * "dense" view keep fewer images than the "sparse" one, i.e. overlap less, and train sparse at gridsize 1.
 */
import type {OverlapViewSpec} from '../../src/pipeline/overlap.js'
import {getStudyDesign, type StudyDesign} from './design.js'

export const BASE_N_GROUPS = 512
export const DEFAULT_PROBE_DIAMETER_PX = 38.4

/** s_img of each view from the design's overlap fractions (the densest view keeps every image). */
export function sImgFromOverlap(overlapViews: Record<string, number>): Record<string, number> {
  const fMax = Math.max(...Object.values(overlapViews))
  const out: Record<string, number> = {}
  // rounded to 12 decimals so that (0.3 / 0.8)^2 is exactly 0.140625, not 0.14062500000000003
  for (const [view, f] of Object.entries(overlapViews)) out[view] = Math.round(((1 - fMax) / (1 - f)) ** 2 * 1e12) / 1e12
  return out
}

export function overlapViewPresets(design: StudyDesign = getStudyDesign()): Record<string, OverlapViewSpec> {
  const sImg = sImgFromOverlap(design.overlap_views)
  const out: Record<string, OverlapViewSpec> = {}
  for (const view of Object.keys(design.overlap_views)) {
    out[view] = {
      name: view,
      gridsize: 2,
      s_img: sImg[view],
      n_groups: Math.max(1, Math.round(BASE_N_GROUPS * sImg[view])),
      neighbor_count: design.neighbor_count,
      probe_diameter_px: DEFAULT_PROBE_DIAMETER_PX,
      rng_seed_subsample: design.rng_seeds.subsampling,
      rng_seed_grouping: design.rng_seeds.grouping,
    }
  }
  return out
}

/** The study's views in design order: dense, sparse. */
export const OVERLAP_VIEWS: Readonly<Record<string, OverlapViewSpec>> = Object.freeze(overlapViewPresets())
