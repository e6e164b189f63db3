// Learning curve in stitched-reconstruction terms (not part of the CLI; run after `npm run build`).
//
//   node scripts/reconstruct-checkpoints.mjs <model_bundle.zip> <test.npz> <out dir> <checkpoint.ckpt.zip>...
//
// For every checkpoint a tfjs job wrote (checkpoints/epoch-NNNN.ckpt.zip; a job keeps the newest two, so copy
// them aside while it trains to keep more), loads the job's final bundle (for the model spec, the probe and the
// legacy params), replaces its weights with the checkpoint's, and runs exactly what `study reconstruct` runs on
// the test split: grouping, prediction, stitching, alignment and the metrics against the ground-truth object.
// Prints one line per checkpoint (epoch, optimiser steps, amplitude/phase correlation and SSIM) and writes each
// reconstruction to <out dir>/epoch-NNNN/. An untrained model (the bundle's spec with seeded initial weights) is
// scored as epoch 0.
import path from 'node:path'
const D = new URL('../dist/src', import.meta.url).href
const {loadBundle} = await import(`${D}/model/bundle.js`)
const {readCheckpoint} = await import(`${D}/model/checkpoint.js`)
const {reconstructFromBundle} = await import(`${D}/model/reconstruct.js`)
const {predictObjectPatches} = await import(`${D}/model/predict.js`)
const {PtychoPinn} = await import(`${D}/model/ptychopinn.js`)
const {createRng} = await import(`${D}/util/random.js`)

const [bundleFile, testNpz, outDir, ...checkpoints] = process.argv.slice(2)
if (!bundleFile || !testNpz || !outDir) {
  console.error('usage: node scripts/reconstruct-checkpoints.mjs <model_bundle.zip> <test.npz> <out dir> <checkpoint.ckpt.zip>...')
  process.exit(2)
}

const f = (x) => (typeof x === 'number' ? x.toFixed(3) : '-')
async function score(label, steps, patch) {
  const bundle = await loadBundle(bundleFile)
  patch(bundle)
  const r = await reconstructFromBundle(bundleFile, testNpz, path.join(outDir, label), {backend: 'wasm'}, {
    loadBundle: async () => bundle,
    predictObjectPatches,
  })
  const m = r.metrics
  console.log(
    `${label}  steps ${String(steps).padStart(5)}  correlation amplitude ${f(m?.correlation.amplitude)} phase ${f(m?.correlation.phase)}` +
      `  SSIM amplitude ${f(m?.ssim.amplitude)} phase ${f(m?.ssim.phase)}`,
  )
}

// epoch 0: the same architecture with the seeded initial weights the runner starts from (the bundle's probe)
const template = await loadBundle(bundleFile)
const probe = {re: await template.model.probeRe.data(), im: await template.model.probeIm.data()}
const fresh = new PtychoPinn({...template.spec, probe_mask: false}, probe, createRng(Number(process.env.SEED ?? template.manifest.training?.seed ?? 0)))
const initial = await fresh.readVariables()
fresh.dispose()
template.dispose()
await score('epoch-0000', 0, (bundle) => bundle.model.assignVariables(initial))

for (const file of checkpoints) {
  const ck = await readCheckpoint(file)
  const weights = ck.arrays.filter((a) => !a.name.startsWith('adam/'))
  await score(`epoch-${String(ck.state.epoch).padStart(4, '0')}`, ck.state.optimizer_iterations, (bundle) => bundle.model.assignVariables(weights))
}
