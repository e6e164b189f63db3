/**
 * Seeded uniform random scan positions (spec 4.3): buffer = min(N//2, min(H, W)/2 - 1);
 * xcoords ~ U(buffer, W - buffer), then ycoords ~ U(buffer, H - buffer), all x first, then all y
 * (numpy's draw order in the reference). x is the column and y the row, in object pixels.
 */
import {createRng} from '../util/random.js'

export interface ScanPositions {
  xcoords: Float64Array
  ycoords: Float64Array
  buffer: number
}

export function scanBuffer(n: number, height: number, width: number): number {
  return Math.min(Math.floor(n / 2), Math.min(height, width) / 2 - 1)
}

export function randomScanPositions(count: number, height: number, width: number, n: number, seed: number): ScanPositions {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`number of positions must be a positive integer, got ${count}`)
  const buffer = scanBuffer(n, height, width)
  if (!(buffer > 0)) throw new RangeError(`object ${height}x${width} is too small for probe size ${n}`)
  const rng = createRng(seed)
  const xcoords = new Float64Array(count)
  const ycoords = new Float64Array(count)
  for (let i = 0; i < count; i++) xcoords[i] = buffer + rng.next() * (width - 2 * buffer)
  for (let i = 0; i < count; i++) ycoords[i] = buffer + rng.next() * (height - 2 * buffer)
  return {xcoords, ycoords, buffer}
}
