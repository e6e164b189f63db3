// The whole model's gradients on wasm (custom conv weight, pooling and upsampling gradients) against the cpu
// backend's native Conv2DBackpropFilter, for every variable. Run after `npm run build`: node scripts/gradient-check-vs-cpu.mjs
// full-model gradients: wasm (custom conv grad) vs cpu (native Conv2DBackpropFilter)
import * as tf from '@tensorflow/tfjs-core'
const D = new URL('../dist/src', import.meta.url).href
const {ensureBackend} = await import(`${D}/model/backend.js`)
const {modelSpecFrom} = await import(`${D}/model/architecture.js`)
const {PtychoPinn} = await import(`${D}/model/ptychopinn.js`)
const {trainingLoss} = await import(`${D}/model/loss.js`)
const {createRng} = await import(`${D}/util/random.js`)
const gs = Number(process.env.GS ?? 1), C = gs * gs, N = 64, B = 2
const spec = modelSpecFrom({N, gridsize: gs, n_filters_scale: 1, amp_activation: 'sigmoid', object_big: true, probe_big: true, probe_mask: false, pad_object: true, probe_scale: 4, gaussian_smoothing_sigma: 0}, {nphotons: 1e5, intensity_scale_trainable: true, probe_trainable: false})
const rng = createRng(3)
const probe = new Float32Array(2 * N * N); for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) { const r2 = (x - 32) ** 2 + (y - 32) ** 2; probe[2 * (y * N + x)] = Math.exp(-r2 / 200); probe[2 * (y * N + x) + 1] = 0.3 * Math.exp(-r2 / 100) }
const X = new Float32Array(B * N * N * C).map(() => Math.abs(rng.normal()) * 0.5)
const T = new Float32Array(B * C * N * N).map(() => rng.next() * 5)
const coords = new Float32Array(B * 2 * C).map(() => (gs > 1 ? rng.normal() * 3 : 0))
async function grads(backend) {
  await ensureBackend(backend)
  const m = new PtychoPinn(spec, probe, createRng(1))
  const vars = m.trainableVariables()
  const x = tf.tensor4d(X, [B, N, N, C]), t = tf.tensor3d(T, [B * C, N, N])
  const {value, grads} = tf.variableGrads(() => trainingLoss(m.forward(x, coords, {intensity: true}).intensity, t, {nll_weight: 1, mae_weight: 0}), vars)
  const out = {}; for (const v of vars) out[v.name] = await grads[v.name].data()
  const names = vars.map((v) => v.name); const loss = (await value.data())[0]; m.dispose(); return {out, names, loss}
}
const a = await grads('wasm'); const b = await grads('cpu')
console.log('loss', a.loss, b.loss)
for (let i = 0; i < a.names.length; i++) { const ga = a.out[a.names[i]], gb = b.out[b.names[i]]; let d = 0, n = 0; for (let k = 0; k < ga.length; k++) { d = Math.max(d, Math.abs(ga[k] - gb[k])); n = Math.max(n, Math.abs(gb[k])) } console.log(i, ga.length, 'maxdiff', d.toExponential(2), 'max', n.toExponential(2)) }
