/**
 * Image metrics of the study's evaluation (spec §8.3, `ptycho/evaluation.py`), on plain row-major arrays.
 * All computation is in float64.
 */

export interface Image {
  data: Float64Array
  /** rows */
  H: number
  /** columns */
  W: number
}

export function image(data: ArrayLike<number>, H: number, W: number): Image {
  if (data.length !== H * W) throw new RangeError(`image data has ${data.length} values, expected ${H}×${W} = ${H * W}`)
  return {data: Float64Array.from(data), H, W}
}

/** `a[t:-t, t:-t]`: cut t pixels from each border. */
export function trimBorder(img: Image, t: number): Image {
  if (t === 0) return {data: Float64Array.from(img.data), H: img.H, W: img.W}
  return crop(img, t, t, img.H - 2 * t, img.W - 2 * t)
}

/** rows [r0, r0+h), columns [c0, c0+w) */
export function crop(img: Image, r0: number, c0: number, h: number, w: number): Image {
  if (r0 < 0 || c0 < 0 || h < 0 || w < 0 || r0 + h > img.H || c0 + w > img.W) {
    throw new RangeError(`crop [${r0}:${r0 + h}, ${c0}:${c0 + w}] is outside a ${img.H}×${img.W} image`)
  }
  const out = new Float64Array(h * w)
  for (let r = 0; r < h; r++) out.set(img.data.subarray((r0 + r) * img.W + c0, (r0 + r) * img.W + c0 + w), r * w)
  return {data: out, H: h, W: w}
}

/** Centre crop to h×w with numpy's `(H − h) // 2` start. */
export function centerCrop(img: Image, h: number, w: number): Image {
  return crop(img, Math.floor((img.H - h) / 2), Math.floor((img.W - w) / 2), h, w)
}

/**
 * Least-squares plane a·x + b·y + c over all pixels (x = column index, y = row index).
 * Solved through the 3×3 normal equations in float64 with centred coordinates (well conditioned).
 */
export function fitPlane(img: Image): {a: number; b: number; c: number} {
  const {H, W, data} = img
  const n = H * W
  if (n === 0) throw new RangeError('cannot fit a plane to an empty image')
  const mx = (W - 1) / 2
  const my = (H - 1) / 2
  let sxx = 0
  let syy = 0
  let sxy = 0
  let sxz = 0
  let syz = 0
  let sz = 0
  for (let r = 0; r < H; r++) {
    const y = r - my
    for (let col = 0; col < W; col++) {
      const x = col - mx
      const z = data[r * W + col]
      sxx += x * x
      syy += y * y
      sxy += x * y
      sxz += x * z
      syz += y * z
      sz += z
    }
  }
  // centred coordinates sum to zero, so c decouples: mean(z) = c' ; solve the 2×2 for a, b
  const det = sxx * syy - sxy * sxy
  const a = det === 0 ? 0 : (sxz * syy - syz * sxy) / det
  const b = det === 0 ? 0 : (syz * sxx - sxz * sxy) / det
  const cCentred = sz / n
  return {a, b, c: cCentred - a * mx - b * my}
}

/** `fit_and_remove_plane`: subtract the least-squares plane. */
export function removePlane(img: Image): Image {
  const {a, b, c} = fitPlane(img)
  const out = new Float64Array(img.H * img.W)
  for (let r = 0; r < img.H; r++) {
    for (let col = 0; col < img.W; col++) out[r * img.W + col] = img.data[r * img.W + col] - (a * col + b * r + c)
  }
  return {data: out, H: img.H, W: img.W}
}

export function mean(values: ArrayLike<number>): number {
  let s = 0
  for (let i = 0; i < values.length; i++) s += values[i]
  return s / values.length
}

function sameShape(a: Image, b: Image): void {
  if (a.H !== b.H || a.W !== b.W) throw new RangeError(`images differ in shape: ${a.H}×${a.W} vs ${b.H}×${b.W}`)
}

export function meanAbsoluteError(target: Image, pred: Image): number {
  sameShape(target, pred)
  let s = 0
  for (let i = 0; i < target.data.length; i++) s += Math.abs(target.data[i] - pred.data[i])
  return s / target.data.length
}

export function meanSquaredError(target: Image, pred: Image): number {
  sameShape(target, pred)
  let s = 0
  for (let i = 0; i < target.data.length; i++) {
    const d = target.data[i] - pred.data[i]
    s += d * d
  }
  return s / target.data.length
}

/** `cv2.PSNR(t, p)` with OpenCV's default peak R = 255: 20·log10(R / sqrt(MSE)); +Infinity for identical images. */
export function psnr(target: Image, pred: Image, peak = 255): number {
  const mse = meanSquaredError(target, pred)
  return 20 * Math.log10(peak / Math.sqrt(mse))
}

/** Pearson correlation coefficient of two images (NaN when either is constant). */
export function pearson(a: Image, b: Image): number {
  sameShape(a, b)
  const ma = mean(a.data)
  const mb = mean(b.data)
  let sab = 0
  let saa = 0
  let sbb = 0
  for (let i = 0; i < a.data.length; i++) {
    const da = a.data[i] - ma
    const db = b.data[i] - mb
    sab += da * db
    saa += da * da
    sbb += db * db
  }
  return sab / Math.sqrt(saa * sbb)
}

/**
 * Mean structural similarity with the semantics of `skimage.metrics.structural_similarity(im1, im2,
 * data_range=R)` at its defaults: 7×7 uniform window, K1 = 0.01, K2 = 0.03, sample covariance
 * (N/(N−1)), mean of the SSIM map after cutting (7−1)/2 = 3 pixels from each border. Only windows lying
 * wholly inside the image enter that mean, so the filter's border mode does not matter.
 */
export function ssim(im1: Image, im2: Image, dataRange: number, options: {winSize?: number; K1?: number; K2?: number} = {}): number {
  sameShape(im1, im2)
  const win = options.winSize ?? 7
  const K1 = options.K1 ?? 0.01
  const K2 = options.K2 ?? 0.03
  if (win % 2 !== 1 || win < 3) throw new RangeError(`SSIM window size must be odd and ≥ 3, got ${win}`)
  const {H, W} = im1
  if (H < win || W < win) {
    throw new RangeError(`SSIM needs images at least ${win}×${win} (the window), got ${H}×${W}`)
  }
  if (!(dataRange > 0)) throw new RangeError(`SSIM data_range must be > 0, got ${dataRange}`)
  const np = win * win
  const covNorm = np / (np - 1)
  const C1 = (K1 * dataRange) ** 2
  const C2 = (K2 * dataRange) ** 2
  // summed-area tables of x, y, x², y², xy
  const W1 = W + 1
  const tables = [new Float64Array((H + 1) * W1), new Float64Array((H + 1) * W1), new Float64Array((H + 1) * W1), new Float64Array((H + 1) * W1), new Float64Array((H + 1) * W1)]
  const [tx, ty, txx, tyy, txy] = tables
  for (let r = 0; r < H; r++) {
    let rx = 0
    let ry = 0
    let rxx = 0
    let ryy = 0
    let rxy = 0
    for (let c = 0; c < W; c++) {
      const x = im1.data[r * W + c]
      const y = im2.data[r * W + c]
      rx += x
      ry += y
      rxx += x * x
      ryy += y * y
      rxy += x * y
      const k = (r + 1) * W1 + c + 1
      const up = r * W1 + c + 1
      tx[k] = tx[up] + rx
      ty[k] = ty[up] + ry
      txx[k] = txx[up] + rxx
      tyy[k] = tyy[up] + ryy
      txy[k] = txy[up] + rxy
    }
  }
  const boxSum = (t: Float64Array, r0: number, c0: number): number =>
    t[(r0 + win) * W1 + c0 + win] - t[r0 * W1 + c0 + win] - t[(r0 + win) * W1 + c0] + t[r0 * W1 + c0]
  let total = 0
  let count = 0
  for (let r0 = 0; r0 + win <= H; r0++) {
    for (let c0 = 0; c0 + win <= W; c0++) {
      const ux = boxSum(tx, r0, c0) / np
      const uy = boxSum(ty, r0, c0) / np
      const uxx = boxSum(txx, r0, c0) / np
      const uyy = boxSum(tyy, r0, c0) / np
      const uxy = boxSum(txy, r0, c0) / np
      const vx = covNorm * (uxx - ux * ux)
      const vy = covNorm * (uyy - uy * uy)
      const vxy = covNorm * (uxy - ux * uy)
      const s = ((2 * ux * uy + C1) * (2 * vxy + C2)) / ((ux * ux + uy * uy + C1) * (vx + vy + C2))
      total += s
      count++
    }
  }
  return total / count
}
