/**
 * Patch size N of a training NPZ, from member headers only (spec §6.3 `_infer_patch_size`):
 * diffraction.shape[1] (3-D), then diff3d.shape[1] (3-D), then probeGuess.shape[0]; anything else -> 64.
 * Only the NPZ headers are read (listNpz, imported lazily), never the arrays.
 */
export const DEFAULT_PATCH_SIZE = 64

/** N from member shapes, in the reference's order of preference. */
export function patchSizeFromHeaders(headers: readonly {name: string; shape: number[]}[]): number | undefined {
  const byName = new Map(headers.map((h) => [h.name, h.shape]))
  const diffraction = byName.get('diffraction')
  if (diffraction && diffraction.length === 3) return diffraction[1]
  const diff3d = byName.get('diff3d')
  if (diff3d && diff3d.length === 3) return diff3d[1]
  const probe = byName.get('probeGuess')
  if (probe && probe.length >= 1) return probe[0]
  return undefined
}

/**
 * Patch size N of a training NPZ; 64 when it cannot be read (as the reference), and then `warn` is told why
 * (the reference falls back silently, which hides a corrupt or wrong file).
 */
export async function inferPatchSize(file: string, warn?: (message: string) => void): Promise<number> {
  let headers: {name: string; shape: number[]}[]
  try {
    // loaded on first use: a dry run never reads an NPZ and does not pay for the NPZ reader's import
    const {listNpz} = await import('../io/npz.js')
    headers = await listNpz(file)
  } catch (error) {
    warn?.(`could not read N from ${file}: ${(error as Error).message}; using N=${DEFAULT_PATCH_SIZE}`)
    return DEFAULT_PATCH_SIZE
  }
  const n = patchSizeFromHeaders(headers)
  if (n === undefined) {
    warn?.(
      `could not read N from ${file}: no 3-D 'diffraction' or 'diff3d' and no 'probeGuess' among its members (${headers.map((h) => h.name).join(', ') || 'none'}); using N=${DEFAULT_PATCH_SIZE}`,
    )
    return DEFAULT_PATCH_SIZE
  }
  return n
}
