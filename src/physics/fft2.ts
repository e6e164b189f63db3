/**
 * 2-D complex FFT on N x N images (N a power of two), built on fft.js (radix-4, precomputed twiddles).
 * Rows are transformed first, written transposed, then the former columns are transformed as rows, so
 * every 1-D transform reads contiguous memory. All buffers are allocated once per instance and reused.
 *
 * Convention (numpy's): F[k, l] = sum_{r, c} x[r, c] exp(-2 pi i (k r + l c) / N), unnormalised.
 * Data are interleaved complex [re0, im0, re1, im1, ...] in row-major order.
 */
import FFT from 'fft.js'

export class Fft2 {
  readonly n: number
  private readonly fft: FFT
  private readonly rowIn: Float64Array
  private readonly rowOut: Float64Array
  private readonly transposed: Float64Array

  constructor(n: number) {
    if (!Number.isInteger(n) || n < 2 || (n & (n - 1)) !== 0) {
      throw new RangeError(`FFT size must be a power of two >= 2, got ${n}`)
    }
    this.n = n
    this.fft = new FFT(n)
    this.rowIn = new Float64Array(2 * n)
    this.rowOut = new Float64Array(2 * n)
    this.transposed = new Float64Array(2 * n * n)
  }

  /** Row pass: transposed[c][r] = FFT_row(input[r])[c]. */
  private rowsToTransposed(input: ArrayLike<number>): void {
    const n = this.n
    const {fft, rowIn, rowOut, transposed} = this
    const two = 2 * n
    const direct = input instanceof Float64Array
    for (let r = 0; r < n; r++) {
      const base = r * two
      if (direct) {
        fft.transform(rowOut, input.subarray(base, base + two))
      } else {
        for (let i = 0; i < two; i++) rowIn[i] = input[base + i]
        fft.transform(rowOut, rowIn)
      }
      for (let c = 0, t = 2 * r; c < n; c++, t += two) {
        transposed[t] = rowOut[2 * c]
        transposed[t + 1] = rowOut[2 * c + 1]
      }
    }
  }

  /** Full forward 2-D DFT: output[k, l] in natural (unshifted) order. `output` may be `input`. */
  forward(input: ArrayLike<number>, output: Float64Array | Float32Array): void {
    const n = this.n
    this.rowsToTransposed(input)
    const {fft, rowOut, transposed} = this
    const two = 2 * n
    for (let c = 0; c < n; c++) {
      fft.transform(rowOut, transposed.subarray(c * two, (c + 1) * two))
      // rowOut[k] = F[k, c]
      for (let k = 0, o = 2 * c; k < n; k++, o += two) {
        output[o] = rowOut[2 * k]
        output[o + 1] = rowOut[2 * k + 1]
      }
    }
  }

  /**
   * scale * |FFT2(input)|^2, fftshifted (zero frequency at [N/2, N/2]), written to `power` (N*N reals).
   * Fuses the column pass, the modulus and the shift so no complex spectrum is stored.
   */
  shiftedPower(input: ArrayLike<number>, power: Float64Array | Float32Array, scale: number): void {
    const n = this.n
    const half = n >> 1
    this.rowsToTransposed(input)
    const {fft, rowOut, transposed} = this
    const two = 2 * n
    for (let c = 0; c < n; c++) {
      fft.transform(rowOut, transposed.subarray(c * two, (c + 1) * two))
      const col = (c + half) & (n - 1)
      for (let k = 0; k < n; k++) {
        const re = rowOut[2 * k]
        const im = rowOut[2 * k + 1]
        power[((k + half) & (n - 1)) * n + col] = scale * (re * re + im * im)
      }
    }
  }
}

/** fftshift of an N x N real image by index arithmetic (N even): out[(r+N/2)%N, (c+N/2)%N] = in[r, c]. */
export function fftshift2(input: ArrayLike<number>, n: number, out: Float64Array | Float32Array): void {
  const half = n >> 1
  for (let r = 0; r < n; r++) {
    const rr = ((r + half) % n) * n
    for (let c = 0; c < n; c++) out[rr + ((c + half) % n)] = input[r * n + c]
  }
}
