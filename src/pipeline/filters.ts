/**
 * The --dose / --view / --gridsize filters (each repeatable). A job matches when it matches every given
 * filter; a filter matches when any of its values matches.
 */
import {NoMatchError} from '../errors.js'
import type {SkipEvent} from './training-jobs.js'
import {formatDoseE} from './format.js'

export interface TrainingFilters {
  dose?: readonly number[]
  view?: readonly string[]
  gridsize?: readonly number[]
}

/** Filters as recorded in the manifest: null where not given. */
export interface RecordedFilters {
  dose: number[] | null
  view: string[] | null
  gridsize: number[] | null
}

export function recordFilters(filters: TrainingFilters): RecordedFilters {
  const norm = <T>(v: readonly T[] | undefined): T[] | null => (v && v.length > 0 ? [...v] : null)
  return {dose: norm(filters.dose), view: norm(filters.view), gridsize: norm(filters.gridsize)}
}

export function matchesFilters(job: {dose: number; view: string; gridsize: number}, filters: TrainingFilters): boolean {
  if (filters.dose?.length && !filters.dose.includes(job.dose)) return false
  if (filters.view?.length && !filters.view.includes(job.view)) return false
  if (filters.gridsize?.length && !filters.gridsize.includes(job.gridsize)) return false
  return true
}

/** `--dose 1000 --view dense` as a user typed it */
export function describeFilters(filters: TrainingFilters): string {
  const parts: string[] = []
  for (const d of filters.dose ?? []) parts.push(`--dose ${d}`)
  for (const v of filters.view ?? []) parts.push(`--view ${v}`)
  for (const g of filters.gridsize ?? []) parts.push(`--gridsize ${g}`)
  return parts.length > 0 ? parts.join(' ') : '(no filters)'
}

export interface AvailableValues {
  /** the design's doses */
  doses: readonly number[]
  /** the design doses whose phase C folder exists (when known) */
  dosesWithData?: readonly number[]
  views: readonly string[]
  gridsizes: readonly number[]
}

function doseValues(available: AvailableValues): string {
  const design = available.doses.join(', ')
  const present = available.dosesWithData
  if (!present || present.length === available.doses.length) return design
  return `${present.length > 0 ? present.join(', ') : 'none'} (with phase C data; the design lists ${design})`
}

/** The error when nothing matches: names the filters, the values that exist and what was skipped. */
export function noMatchError(filters: TrainingFilters, available: AvailableValues, skipped: readonly SkipEvent[]): NoMatchError {
  const lines = [
    `No jobs match the specified filters: ${describeFilters(filters)}`,
    `Values that exist in this study: --dose ${doseValues(available)}; --view ${available.views.join(', ')}; --gridsize ${available.gridsizes.join(', ')}`,
  ]
  if (skipped.length > 0) {
    lines.push(
      `Skipped for missing phase D data: ${skipped.map((s) => `${s.view} (dose=${formatDoseE(s.dose)})`).join(', ')}`,
    )
  }
  lines.push('Nothing was trained and no manifest was written.')
  return new NoMatchError(lines.join('\n'))
}

/** Filter values that matched no job (for a warning when others did match). */
export function unmatchedFilterValues(
  jobs: readonly {dose: number; view: string; gridsize: number}[],
  filters: TrainingFilters,
): string[] {
  const out: string[] = []
  for (const d of filters.dose ?? []) if (!jobs.some((j) => j.dose === d)) out.push(`--dose ${d}`)
  for (const v of filters.view ?? []) if (!jobs.some((j) => j.view === v)) out.push(`--view ${v}`)
  for (const g of filters.gridsize ?? []) if (!jobs.some((j) => j.gridsize === g)) out.push(`--gridsize ${g}`)
  return out
}
