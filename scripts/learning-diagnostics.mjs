// Learning diagnostics for the tfjs PtychoPINN (not part of the CLI; run after `npm run build`).
//
//   node scripts/learning-diagnostics.mjs <phys|sup> <epochs> [n_filters_scale=1] [dose=100000] [lr=1e-3]
//
// Trains a fresh model on <ROOT>/dose_<dose>/patched_train.npz (or <ROOT>/dose_<dose>/<VIEW>/<VIEW>_train.npz)
// with the runner's own model, Adam and batches (batch 16, fixed learning rate), and every EVERY epochs scores
// the predicted object patches (central N/2 x N/2) of 64 train and 64 test groups against the ground truth:
// mean per-patch correlation of phase and amplitude, and "pred-pair sim", the mean correlation between the
// predictions of consecutive groups (about 0 for the truth; near 1 when the model predicts one patch for all).
// mode phys = the study's Poisson NLL on the intensities; sup = supervised on the ground-truth patches (a check
// of what the architecture can learn at all).
// env: ROOT (phase C or D root), VIEW (dense|sparse), GS (gridsize, default 1), NG (n_groups, default 512),
//      NOBIG=1 (probe_big false), LRDROP=<epoch> (lr/10 from then), FULL=1 (full-split losses), EVERY (default 2),
//      BACKEND (default wasm).
import * as tf from '@tensorflow/tfjs-core'
const D = new URL('../dist/src', import.meta.url).href
const {ensureBackend} = await import(`${D}/model/backend.js`)
const {loadGroupedData} = await import(`${D}/model/training-data.js`)
const {modelSpecFrom} = await import(`${D}/model/architecture.js`)
const {PtychoPinn} = await import(`${D}/model/ptychopinn.js`)
const {Adam} = await import(`${D}/model/adam.js`)
const {makeBatch} = await import(`${D}/model/train.js`)
const {trainingLoss} = await import(`${D}/model/loss.js`)
const {createRng} = await import(`${D}/util/random.js`)
const {extractPatches} = await import(`${D}/physics/patches.js`)
const mode = process.argv[2] ?? 'phys', epochs = Number(process.argv[3] ?? 10), nfs = Number(process.argv[4] ?? 1)
const dose = process.argv[5] ?? '100000', lr = Number(process.argv[6] ?? 1e-3)
const gs = Number(process.env.GS ?? 1)
await ensureBackend(process.env.BACKEND ?? 'wasm')
const root = process.env.ROOT ?? 'study-out/example/data/phase_c'
const opts = {N: 64, gridsize: gs, nGroups: Number(process.env.NG ?? 512), neighborCount: 4, enableOversampling: false, seed: 7, nphotons: Number(dose)}
const pre = process.env.VIEW ? `${root}/dose_${dose}/${process.env.VIEW}/${process.env.VIEW}_` : `${root}/dose_${dose}/patched_`
const tr = await loadGroupedData(`${pre}train.npz`, opts)
const te = await loadGroupedData(`${pre}test.npz`, opts)
const spec = modelSpecFrom({N: 64, gridsize: gs, n_filters_scale: nfs, amp_activation: 'sigmoid', object_big: true, probe_big: process.env.NOBIG ? false : true, probe_mask: false, pad_object: true, probe_scale: 4, gaussian_smoothing_sigma: 0}, {nphotons: Number(dose), intensity_scale_trainable: true, probe_trainable: false})
const model = new PtychoPinn(spec, tr.probe, createRng(1))
const vars = model.trainableVariables()
const adam = new Adam(vars, {learningRate: lr})
const N = 64, C = gs * gs
console.log(`train B=${tr.B} test B=${te.B} nfs=${nfs} mode=${mode} dose=${dose}`)
function corr(a, b) { let ma = 0, mb = 0; for (let i = 0; i < a.length; i++) { ma += a[i]; mb += b[i] } ma /= a.length; mb /= b.length
  let s = 0, xa = 0, xb = 0; for (let i = 0; i < a.length; i++) { const u = a[i] - ma, v = b[i] - mb; s += u * v; xa += u * u; xb += v * v } return s / Math.sqrt(xa * xb + 1e-30) }
// central N/2 region, channel 0
function centre(arrRe, arrIm, g, which) { const q = N / 4, out = new Float32Array((N / 2) ** 2); let k = 0
  for (let y = q; y < q + N / 2; y++) for (let x = q; x < q + N / 2; x++) { const i = ((g * N + y) * N + x) * C; const re = arrRe[i], im = arrIm[i]
    out[k++] = which === 'phase' ? Math.atan2(im, re) : Math.hypot(re, im) } return out }
async function evaluate(d, label) {
  const n = Math.min(d.B, 64); const idx = Array.from({length: n}, (_, i) => i)
  const b = makeBatch(d, idx, spec, false)
  const x = tf.tensor4d(b.x, [n, N, N, C])
  const r = model.forward(x, b.coords, {intensity: false})
  const re = await r.objRe.data(), im = await r.objIm.data(); tf.dispose([x, r.objRe, r.objIm])
  // predicted (n,N,N) flat; gt (B,N,N,C)
  let cp = 0, ca = 0, nb = 0, nbgt = 0
  const predP = [], gtP = []
  for (let g = 0; g < n; g++) {
    const q = N / 4; const pp = new Float32Array((N / 2) ** 2), pa = new Float32Array((N / 2) ** 2); let k = 0
    for (let y = q; y < q + N / 2; y++) for (let xx = q; xx < q + N / 2; xx++) { const i = (g * N + y) * N + xx; pp[k] = Math.atan2(im[i], re[i]); pa[k++] = Math.hypot(re[i], im[i]) }
    let gp, ga
    if (C === 1) { gp = centre(d.groundTruthPatches.re, d.groundTruthPatches.im, g, 'phase'); ga = centre(d.groundTruthPatches.re, d.groundTruthPatches.im, g, 'amp') }
    else { const o = d.objectGuess; const img = {height: o.H, width: o.W, data: new Float32Array(2 * o.H * o.W)}; for (let i = 0; i < o.H * o.W; i++) { img.data[2 * i] = o.re[i]; img.data[2 * i + 1] = o.im[i] }
      const p = extractPatches(img, [d.coordsOffsets[2 * g]], [d.coordsOffsets[2 * g + 1]], N); const q = N / 4; gp = new Float32Array((N / 2) ** 2); ga = new Float32Array((N / 2) ** 2); let k = 0
      for (let y = q; y < q + N / 2; y++) for (let xx = q; xx < q + N / 2; xx++) { const i = 2 * (y * N + xx); gp[k] = Math.atan2(p[i + 1], p[i]); ga[k++] = Math.hypot(p[i], p[i + 1]) } }
    cp += corr(pp, gp); ca += corr(pa, ga); predP.push(pp); gtP.push(gp)
  }
  for (let g = 1; g < n; g++) { nb += corr(predP[g], predP[g - 1]); nbgt += corr(gtP[g], gtP[g - 1]) }
  let bsum = 0, bn = 0; for (let g = 0; g < n; g++) for (let y = 0; y < N; y++) for (let xx = 0; xx < N; xx++) { if (y >= N/4 && y < 3*N/4 && xx >= N/4 && xx < 3*N/4) continue; const i = (g * N + y) * N + xx; bsum += Math.hypot(re[i], im[i]); bn++ }
  return `${label}: border |obj| ${(bsum/bn).toFixed(3)} phase corr ${(cp / n).toFixed(3)} amp corr ${(ca / n).toFixed(3)} pred-pair sim ${(nb / (n - 1)).toFixed(3)} (gt ${(nbgt / (n - 1)).toFixed(3)})`
}
const nTrain = Math.floor(tr.B * 0.95)
async function fullLoss(d, lo, hi) { let tot = 0, n = 0
  for (let s = lo; s < hi; s += 16) { const bi = []; for (let i = s; i < Math.min(hi, s + 16); i++) bi.push(i); const b = makeBatch(d, bi, spec, false)
    const x = tf.tensor4d(b.x, [b.n, N, N, C]); const ti = tf.tensor3d(b.targetIntensity, [b.n * C, N, N])
    const l = tf.tidy(() => trainingLoss(model.forward(x, b.coords, {intensity: true}).intensity, ti, {nll_weight: 1, mae_weight: 0}))
    tot += (await l.data())[0] * b.n; n += b.n; tf.dispose([x, ti, l]) }
  return tot / n }
if (process.env.FULL) console.log('init full train loss', (await fullLoss(tr, 0, nTrain)).toFixed(4), (await fullLoss(tr, 0, nTrain)).toFixed(4))
let step = 0; const t0 = Date.now()
for (let e = 0; e < epochs; e++) {
  if (process.env.LRDROP && e === Number(process.env.LRDROP)) { adam.learningRate = lr / 10; console.log('lr ->', adam.learningRate) }
  const rng = createRng(100 + e); const idx = Array.from({length: nTrain}, (_, i) => i)
  for (let i = idx.length - 1; i > 0; i--) { const j = rng.nextInt(i + 1); [idx[i], idx[j]] = [idx[j], idx[i]] }
  let tot = 0, nb = 0
  for (let s = 0; s + 1 <= idx.length; s += 16) {
    const bi = idx.slice(s, s + 16); const b = makeBatch(tr, bi, spec, false)
    const x = tf.tensor4d(b.x, [b.n, N, N, C]); const ti = tf.tensor3d(b.targetIntensity, [b.n * C, N, N])
    let gre, gim
    if (mode === 'sup') { // supervised on GT patches (channel 0, trimmed object)
      const G = new Float32Array(b.n * N * N * 2)
      for (let k = 0; k < b.n; k++) for (let j = 0; j < N * N; j++) { G[2 * (k * N * N + j)] = tr.groundTruthPatches.re[(bi[k] * N * N + j) * C]; G[2 * (k * N * N + j) + 1] = tr.groundTruthPatches.im[(bi[k] * N * N + j) * C] }
      const g = tf.tensor4d(G, [b.n, N, N, 2]); gre = g.slice([0, 0, 0, 0], [b.n, N, N, 1]).reshape([b.n, N, N]); gim = g.slice([0, 0, 0, 1], [b.n, N, N, 1]).reshape([b.n, N, N]); g.dispose()
    }
    const mask = tf.pad(tf.ones([N / 2, N / 2]), [[N / 4, N / 4], [N / 4, N / 4]])
    const {value, grads} = tf.variableGrads(() => {
      if (mode === 'sup') { const r = model.forward(x, b.coords, {intensity: false}); return tf.mean(tf.mul(tf.add(tf.square(tf.sub(r.objRe, gre)), tf.square(tf.sub(r.objIm, gim))), mask)) }
      const {intensity} = model.forward(x, b.coords, {intensity: true}); return trainingLoss(intensity, ti, {nll_weight: 1, mae_weight: 0})
    }, vars)
    adam.apply(vars.map((v) => grads[v.name]))
    tot += (await value.data())[0]; nb++; step++
    tf.dispose([value, x, ti, mask, ...Object.values(grads), ...(gre ? [gre, gim] : [])])
  }
  const fl = process.env.FULL ? ` full ${(await fullLoss(tr, 0, nTrain)).toFixed(4)} val ${(await fullLoss(tr, nTrain, tr.B)).toFixed(4)}` : ''
  console.log(`epoch ${e + 1}${fl} loss ${(tot / nb).toFixed(4)} steps ${step} ${((Date.now() - t0) / 1000).toFixed(0)}s logscale ${(await model.logScale.data())[0].toFixed(3)}`)
  if ((e + 1) % Number(process.env.EVERY ?? 2) === 0 || e === epochs - 1) { console.log('  ' + await evaluate(tr, 'train')); console.log('  ' + await evaluate(te, 'test')) }
}
