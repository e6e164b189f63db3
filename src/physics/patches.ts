/**
 * Ground-truth patch extraction with the semantics of ptycho's get_image_patches (spec 4.3): pad the object
 * by N//2 zeros on every side, translate the padded object by -(x, y) with bilinear interpolation and zero
 * fill, keep [:N, :N]. Equivalently patch[r, c] = O(r + y - N//2, c + x - N//2), bilinear, zero outside the
 * object: the N x N patch centred at (x, y), x = column and y = row in object pixels.
 */
import type {ComplexImage} from './complex-image.js'

/**
 * Extract one patch per position into `out` (interleaved complex, n * N * N * 2 values, row-major per patch).
 * `out` may be float32 (complex64 storage) or float64.
 */
export function extractPatches(
  object: ComplexImage,
  xcoords: ArrayLike<number>,
  ycoords: ArrayLike<number>,
  n: number,
  out?: Float32Array | Float64Array,
): Float32Array | Float64Array {
  const count = xcoords.length
  if (ycoords.length !== count) throw new RangeError(`xcoords (${count}) and ycoords (${ycoords.length}) differ in length`)
  const {height, width, data} = object
  const result = out ?? new Float32Array(2 * count * n * n)
  if (result.length !== 2 * count * n * n) throw new RangeError(`patch buffer needs ${2 * count * n * n} values, got ${result.length}`)
  const half = Math.floor(n / 2)
  for (let b = 0; b < count; b++) {
    const x = xcoords[b]
    const y = ycoords[b]
    if (!Number.isFinite(x) || !Number.isFinite(y)) throw new RangeError(`position ${b} is not finite: (${x}, ${y})`)
    const x0 = Math.floor(x)
    const y0 = Math.floor(y)
    const fx = x - x0
    const fy = y - y0
    const w00 = (1 - fy) * (1 - fx)
    const w01 = (1 - fy) * fx
    const w10 = fy * (1 - fx)
    const w11 = fy * fx
    const base = 2 * b * n * n
    for (let r = 0; r < n; r++) {
      const row0 = r + y0 - half
      const row1 = row0 + 1
      const in0 = row0 >= 0 && row0 < height
      const in1 = row1 >= 0 && row1 < height
      for (let c = 0; c < n; c++) {
        const col0 = c + x0 - half
        const col1 = col0 + 1
        const c0ok = col0 >= 0 && col0 < width
        const c1ok = col1 >= 0 && col1 < width
        let re = 0
        let im = 0
        if (in0) {
          if (c0ok) {
            const i = 2 * (row0 * width + col0)
            re += w00 * data[i]
            im += w00 * data[i + 1]
          }
          if (c1ok) {
            const i = 2 * (row0 * width + col1)
            re += w01 * data[i]
            im += w01 * data[i + 1]
          }
        }
        if (in1) {
          if (c0ok) {
            const i = 2 * (row1 * width + col0)
            re += w10 * data[i]
            im += w10 * data[i + 1]
          }
          if (c1ok) {
            const i = 2 * (row1 * width + col1)
            re += w11 * data[i]
            im += w11 * data[i + 1]
          }
        }
        const o = base + 2 * (r * n + c)
        result[o] = re
        result[o + 1] = im
      }
    }
  }
  return result
}
