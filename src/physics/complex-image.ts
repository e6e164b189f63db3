/** A complex 2-D image in float64, interleaved [re, im] in row-major order (height rows, width columns). */
export interface ComplexImage {
  height: number
  width: number
  data: Float64Array
}

export function complexImage(height: number, width: number, data?: Float64Array): ComplexImage {
  const d = data ?? new Float64Array(2 * height * width)
  if (d.length !== 2 * height * width) {
    throw new RangeError(`complex image ${height}x${width} needs ${2 * height * width} values, got ${d.length}`)
  }
  return {height, width, data: d}
}

/** Interleaved complex64 (Float32Array) copy, for writing as numpy '<c8'. */
export function toComplex64(img: ComplexImage): Float32Array {
  return Float32Array.from(img.data)
}

/** Amplitude |z| of every pixel. */
export function amplitudeOf(img: ComplexImage): Float64Array {
  const out = new Float64Array(img.height * img.width)
  for (let i = 0; i < out.length; i++) out[i] = Math.hypot(img.data[2 * i], img.data[2 * i + 1])
  return out
}

/** Phase arg(z) of every pixel, in (-pi, pi]. */
export function phaseOf(img: ComplexImage): Float64Array {
  const out = new Float64Array(img.height * img.width)
  for (let i = 0; i < out.length; i++) out[i] = Math.atan2(img.data[2 * i + 1], img.data[2 * i])
  return out
}
