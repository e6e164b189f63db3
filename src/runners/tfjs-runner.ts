/**
 * The `tfjs` runner: trains a real PtychoPINN for one job of the training matrix (spec §6.4, §13) with
 * TensorFlow.js, writes history.jsonl, per-epoch checkpoints and ONE model bundle (model_bundle.zip), then
 * reconstructs the job's test split with that bundle. Everything heavy (tfjs included) is imported lazily,
 * inside the runner, so loading this module costs nothing.
 */
import {appendFile, mkdir, stat} from 'node:fs/promises'
import path from 'node:path'
import type {ProgressEvent, Runner, RunnerContext, RunnerResult} from './types.js'

const RULE = '='.repeat(80)

/** Python's '{:.0e}'.format(x): 1000 -> '1e+03'. */
export function formatDoseE0(x: number): string {
  if (!Number.isFinite(x) || x === 0) return String(x)
  const [m, e] = x.toExponential(0).split('e')
  const exp = Number(e)
  return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`
}

async function exists(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile()
  } catch {
    return false
  }
}

function toPosix(p: string): string {
  return p.split(path.sep).join('/')
}

/** The runner itself (registered under the name `tfjs`). */
export const runner: Runner = async (ctx: RunnerContext): Promise<RunnerResult> => {
  const {config, job} = ctx
  const logPath = ctx.logPath ?? job.logPath
  await mkdir(job.artifactDir, {recursive: true})
  await mkdir(path.dirname(logPath), {recursive: true})
  const log = async (line: string) => appendFile(logPath, line + '\n')
  const pending: Promise<void>[] = []
  const logSync = (line: string) => {
    pending.push(log(line))
  }
  const flush = async () => {
    await Promise.all(pending.splice(0))
  }

  await log(
    [
      '',
      RULE,
      `Phase E5 Training Execution — ${job.view} (dose=${formatDoseE0(job.dose)}, gridsize=${job.gridsize}, backend=${ctx.backend})`,
      RULE,
      `Train dataset: ${job.trainDataPath}`,
      `Test dataset: ${job.testDataPath}`,
      `Output directory: ${job.artifactDir}`,
      `Gridsize: ${job.gridsize}`,
      `nphotons: ${config.nphotons}`,
      `Backend: ${ctx.backend}`,
      '',
    ].join('\n'),
  )
  const fail = async (error: string, extra: Record<string, unknown> = {}): Promise<RunnerResult> => {
    await flush()
    await log(`Training failed: ${error}`)
    return {status: 'failed', error, ...extra}
  }

  // 1. inputs exist
  for (const [file, what] of [
    [job.trainDataPath, 'Training'],
    [job.testDataPath, 'Test'],
  ] as const) {
    if (!(await exists(file))) return fail(`${what} dataset not found: ${file}`)
  }

  // 2. dataset contract, train then test
  const {validateNpzFile} = await import('../data/dataset-contract.js')
  for (const file of [job.trainDataPath, job.testDataPath]) {
    const report = await validateNpzFile(file, {gridsize: job.gridsize, neighborCount: config.neighbor_count})
    if (report.status !== 'ok') {
      const errors = report.findings.filter((f) => f.level === 'error')
      const msg = errors.map((f) => `${f.field}: ${f.message}`).join('; ') || report.status
      await log(`Dataset contract validation failed: ${file}: ${msg}`)
      return fail(`Dataset validation failed: ContractError: ${file}: ${msg}`)
    }
  }

  // backend
  const {ensureBackend} = await import('../model/backend.js')
  let backendUsed: string
  try {
    backendUsed = await ensureBackend(ctx.backend)
  } catch (error) {
    return fail((error as Error).message)
  }
  await log(`Backend used: ${backendUsed}`)

  // 3. grouped data
  const {loadGroupedData} = await import('../model/training-data.js')
  const N = config.model.N
  let data: Awaited<ReturnType<typeof loadGroupedData>>
  try {
    data = await loadGroupedData(job.trainDataPath, {
      N,
      gridsize: job.gridsize,
      nGroups: config.n_groups ?? 512,
      neighborCount: config.neighbor_count,
      enableOversampling: config.enable_oversampling,
      seed: ctx.seed,
      nphotons: config.nphotons,
    })
  } catch (error) {
    return fail(`Dataset loading failed: ${(error as Error).name}: ${(error as Error).message}`, {backend_used: backendUsed})
  }
  await log(`Grouped training data: ${data.B} groups of ${data.C} pattern(s), N=${data.N}, intensity_scale=${data.intensityScale}`)

  // 4. model + training
  const {modelSpecFrom, parameterCount} = await import('../model/architecture.js')
  const {trainPtychoPinn, TrainingInterrupted} = await import('../model/train.js')
  const {streamRenderer} = await import('../model/progress.js')
  const legacy = ctx.legacyParams as Record<string, unknown>
  let spec
  try {
    spec = modelSpecFrom(
      {...config.model, gridsize: job.gridsize},
      {
        nphotons: config.nphotons,
        intensity_scale_trainable: config.intensity_scale_trainable,
        probe_trainable: config.probe_trainable,
        offset: typeof legacy?.offset === 'number' ? legacy.offset : undefined,
        max_position_jitter: typeof legacy?.max_position_jitter === 'number' ? legacy.max_position_jitter : undefined,
      },
    )
  } catch (error) {
    return fail(`Training failed: ${(error as Error).message}`, {backend_used: backendUsed})
  }
  if ((config.realspace_weight ?? 0) > 0 || (config.realspace_mae_weight ?? 0) > 0) {
    await log('Warning: realspace_weight / realspace_mae_weight are not used by the tfjs runner (the study uses 0)')
  }
  await log(`Model: N=${spec.N} gridsize=${spec.gridsize} n_filters_scale=${spec.n_filters_scale} padded_size=${spec.padded_size} parameters=${parameterCount(spec)}`)
  const renderer = ctx.onProgress ? undefined : streamRenderer(process.stderr, `[${job.view} dose=${formatDoseE0(job.dose)} gs${job.gridsize}]`)
  const onProgress = (e: ProgressEvent) => {
    if (ctx.onProgress) ctx.onProgress(e)
    else if (e.message === 'done') renderer!.epochEnd(e)
    else renderer!.update(e)
  }
  const tf = await import('@tensorflow/tfjs-core')
  const tensorsBefore = tf.memory().numTensors
  let trained: Awaited<ReturnType<typeof trainPtychoPinn>>
  try {
    trained = await trainPtychoPinn({
      spec,
      data: {X: data.X, coordsRelative: data.coordsRelative, probe: data.probe},
      batchSize: config.batch_size,
      nepochs: config.nepochs,
      weights: {nll_weight: config.nll_weight, mae_weight: config.mae_weight},
      seed: ctx.seed,
      resume: ctx.fresh !== true,
      jobDir: job.artifactDir,
      log: logSync,
      onProgress,
      signal: ctx.signal,
    })
  } catch (error) {
    renderer?.done()
    if (error instanceof TrainingInterrupted) {
      return fail(`Training interrupted after ${error.epochsCompleted} epoch(s); rerun the job to resume from its last checkpoint`, {
        backend_used: backendUsed,
        epochs_completed: error.epochsCompleted,
        checkpoint_path: error.checkpointPath ? toPosix(path.relative(job.artifactDir, error.checkpointPath)) : null,
      })
    }
    return fail(`Training failed: ${(error as Error).name}: ${(error as Error).message}`, {backend_used: backendUsed})
  }
  renderer?.done()
  await flush()

  const history = {
    loss: trained.history.loss,
    val_loss: trained.history.val_loss,
    lr: trained.history.lr,
    train_loss: trained.history.loss.slice(),
  }
  const finalLoss = history.train_loss[history.train_loss.length - 1]
  const checkpointRel = trained.checkpointPath ? toPosix(path.relative(job.artifactDir, trained.checkpointPath)) : null

  // 6. bundle
  const {saveBundle, BUNDLE_FILE_NAME} = await import('../model/bundle.js')
  const {digestFile} = await import('../io/hash.js')
  const bundleFile = path.join(job.artifactDir, BUNDLE_FILE_NAME)
  let bundle: {bundle_path?: string; bundle_sha256?: string; bundle_size_bytes?: number} = {}
  try {
    await saveBundle(bundleFile, trained.model, {
      legacyParams: legacy ?? {},
      backend: backendUsed,
      training: {epochs_completed: trained.epochsCompleted, final_loss: finalLoss, seed: ctx.seed, n_groups: data.B},
    })
    const d = await digestFile(bundleFile)
    bundle = {bundle_path: toPosix(path.relative(job.artifactDir, bundleFile)), bundle_sha256: d.sha256, bundle_size_bytes: d.size_bytes}
    await log(`Bundle saved: ${bundleFile}`)
    await log(`Bundle SHA256: ${d.sha256}`)
    await log(`Bundle size: ${d.size_bytes} bytes`)
  } catch (error) {
    await log(`Warning: saving the model bundle failed: ${(error as Error).message}`)
  } finally {
    trained.model.dispose()
  }
  const tensorsAfter = tf.memory().numTensors
  if (tensorsAfter !== tensorsBefore) await log(`Warning: ${tensorsAfter - tensorsBefore} tensor(s) leaked by this job`)

  // reconstruction of the test split (its failure is recorded, not fatal)
  let reconstruction: Record<string, unknown> | undefined
  if (bundle.bundle_path) {
    try {
      const {reconstructFromBundle} = await import('../model/reconstruct.js')
      const outDir = path.join(job.artifactDir, 'reconstruction')
      // one group per test scan position (for gridsize > 1 more groups would need oversampling)
      const {listNpz} = await import('../io/npz.js')
      const members = await listNpz(job.testDataPath)
      const nImages = (members.find((m) => m.name === 'diffraction') ?? members.find((m) => m.name === 'diff3d'))?.shape[0]
      const r = await reconstructFromBundle(bundleFile, job.testDataPath, outDir, {
        backend: backendUsed,
        ...(job.gridsize > 1 && nImages ? {nGroups: nImages} : {}),
        signal: ctx.signal,
      })
      const rel = (p: string | undefined) => (p ? toPosix(path.relative(job.artifactDir, p)) : undefined)
      reconstruction = {
        status: 'success',
        npz_path: rel(r.npzPath),
        amplitude_png: rel(r.amplitudePng),
        phase_png: rel(r.phasePng),
        metrics_path: rel(r.metricsPath),
        metrics: r.metrics,
      }
      await log(`Reconstruction of the test split: ${rel(r.npzPath)}`)
      if (r.metrics) await log(`Reconstruction metrics: ${JSON.stringify(r.metrics)}`)
    } catch (error) {
      if (ctx.signal?.aborted) {
        // not a success: the job is reported interrupted, and a rerun (which resumes from the finished checkpoint
        // without training) makes the reconstruction
        return fail(`interrupted during the reconstruction of the test split (${(error as Error).message}); the trained bundle is saved: rerun the job to reconstruct`, {
          backend_used: backendUsed,
          bundle_path: bundle.bundle_path,
        })
      }
      reconstruction = {status: 'failed', error: `${(error as Error).name}: ${(error as Error).message}`}
      await log(`Warning: reconstruction of the test split failed: ${(error as Error).message}`)
    }
  }

  await log(
    [
      'Training completed successfully',
      `Final loss: ${finalLoss}`,
      `Epochs completed: ${trained.epochsCompleted}`,
      `Checkpoint path: ${checkpointRel ?? 'None'}`,
      `Bundle path: ${bundle.bundle_path ?? 'None'}`,
      `Bundle SHA256: ${bundle.bundle_sha256 ?? 'None'}`,
      `Bundle size: ${bundle.bundle_size_bytes ?? 0} bytes`,
    ].join('\n'),
  )
  return {
    status: 'success',
    final_loss: finalLoss,
    epochs_completed: trained.epochsCompleted,
    checkpoint_path: checkpointRel,
    ...bundle,
    history,
    backend_used: backendUsed,
    seed: ctx.seed,
    resumed_from_epoch: trained.resumedFromEpoch,
    stopped_early: trained.stoppedEarly,
    training_seconds: Math.round(trained.elapsedSeconds * 1000) / 1000,
    n_groups: data.B,
    training_results: {history, history_epochs: history.loss.map((_, i) => i)},
    ...(reconstruction ? {reconstruction} : {}),
  }
}

export default runner
