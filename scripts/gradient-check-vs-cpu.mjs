// The whole model's gradients with our custom conv weight gradient (the one wasm needs) against tfjs's native
// Conv2DBackpropFilter, both on the cpu backend (so the forward passes are identical), for every variable.
// Run after `npm run build` (about 90 s; writes /tmp/study-grad-*.json):
//   node scripts/gradient-check-vs-cpu.mjs custom && node scripts/gradient-check-vs-cpu.mjs native
import * as tf from '@tensorflow/tfjs-core'
import {writeFileSync, readFileSync, existsSync} from 'node:fs'
const D = new URL('../dist/src', import.meta.url).href
const {ensureBackend} = await import(`${D}/model/backend.js`)
const {modelSpecFrom} = await import(`${D}/model/architecture.js`)
const {PtychoPinn} = await import(`${D}/model/ptychopinn.js`)
const {trainingLoss} = await import(`${D}/model/loss.js`)
const {createRng} = await import(`${D}/util/random.js`)
await ensureBackend('cpu')
const mode = process.argv[2]
if (mode === 'custom') tf.unregisterKernel('Conv2DBackpropFilter', 'cpu')
const C = 1, N = 64, B = 2
const spec = modelSpecFrom({N, gridsize: 1, n_filters_scale: 1, amp_activation: 'sigmoid', object_big: true, probe_big: true, probe_mask: false, pad_object: true, probe_scale: 4, gaussian_smoothing_sigma: 0}, {nphotons: 1e5, intensity_scale_trainable: true, probe_trainable: false})
const rng = createRng(3)
const probe = new Float32Array(2 * N * N); for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) { const r2 = (x - 32) ** 2 + (y - 32) ** 2; probe[2 * (y * N + x)] = Math.exp(-r2 / 200); probe[2 * (y * N + x) + 1] = 0.3 * Math.exp(-r2 / 100) }
const X = new Float32Array(B * N * N * C).map(() => Math.abs(rng.normal()) * 0.5)
const T = new Float32Array(B * C * N * N).map(() => rng.next() * 5)
const m = new PtychoPinn(spec, probe, createRng(1)); const vars = m.trainableVariables()
const x = tf.tensor4d(X, [B, N, N, C]), t = tf.tensor3d(T, [B * C, N, N])
const {grads} = tf.variableGrads(() => trainingLoss(m.forward(x, new Float32Array(2 * B), {intensity: true}).intensity, t, {nll_weight: 1, mae_weight: 0}), vars)
const out = []; for (const v of vars) out.push(Array.from(await grads[v.name].data()))
writeFileSync(`/tmp/study-grad-${mode}.json`, JSON.stringify(out))
if (existsSync('/tmp/study-grad-custom.json') && existsSync('/tmp/study-grad-native.json')) {
  const a = JSON.parse(readFileSync('/tmp/study-grad-custom.json')), b = JSON.parse(readFileSync('/tmp/study-grad-native.json'))
  let worst = 0; a.forEach((ga, i) => { let d = 0, n = 0; for (let k = 0; k < ga.length; k++) { d = Math.max(d, Math.abs(ga[k] - b[i][k])); n = Math.max(n, Math.abs(b[i][k])) } worst = Math.max(worst, d / (n || 1)) })
  console.log('worst relative difference over all variables', worst.toExponential(2))
}
