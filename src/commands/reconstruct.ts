import {rm, stat} from 'node:fs/promises'
import path from 'node:path'

import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {checkDirWritable} from '../io/atomic.js'
import {reconstructFromBundle, type ReconstructionResult} from '../model/reconstruct.js'

export default class Reconstruct extends BaseCommand {
  static override summary = 'Reconstruct the object of a test NPZ with a trained model bundle (predict, stitch, save, score).'

  static override description = `Groups the test data (every image by default), predicts object patches with the bundle's model, stitches their central M×M crops into one complex object (spec §13.8) and writes, in --output-dir: reconstruction.npz (object, amplitude, phase, offsets, coverage, origin_xy, _metadata) and reconstruction_{amplitude,phase}.png. When the test file holds objectGuess, the reconstruction is scored against it (plane-removed phase, mean-scaled amplitude: MAE, MSE, PSNR, SSIM, correlation) in reconstruction_metrics.json, with ground-truth and side-by-side PNGs.`

  static override examples = [
    '<%= config.bin %> reconstruct --bundle artifacts/dose_1000/baseline/gs1/model_bundle.zip --test-data phase_c/dose_1000/patched_test.npz --output-dir recon/dose_1000',
    '<%= config.bin %> reconstruct --bundle model_bundle.zip --test-data test.npz --output-dir out --backend wasm --stitch-crop-size 20 --json',
    '<%= config.bin %> reconstruct --bundle model_bundle.zip --test-data test.npz --output-dir out --n-groups 256 --seed 7',
  ]

  static override flags = {
    bundle: Flags.string({description: 'trained model bundle written by `study train --runner tfjs`', required: true}),
    'test-data': Flags.string({description: 'test NPZ (DATA-001 keys; objectGuess enables scoring)', required: true}),
    'output-dir': Flags.string({description: 'folder for the reconstruction files (created if needed)', required: true}),
    backend: Flags.string({description: 'TensorFlow.js backend', options: ['auto', 'tensorflow', 'wasm', 'cpu'], default: 'auto'}),
    'stitch-crop-size': Flags.integer({description: 'M: central crop of each patch used for stitching (even, ≤ N)', default: 20, min: 2}),
    'n-groups': Flags.integer({description: 'number of groups to reconstruct (default: every image)', min: 1}),
    seed: Flags.integer({description: 'grouping seed (which images when --n-groups is below the image count)', default: 42}),
    json: Flags.boolean({description: 'print the result (paths and metrics) as JSON on stdout', default: false}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Reconstruct)
    const cwd = process.cwd()
    const say = (msg: string): void => (flags.json ? this.logToStderr(msg) : this.log(msg))
    const outputDir = path.resolve(cwd, flags['output-dir'])
    // before loading and predicting: an unusable output folder is exit 73 at once, not after the work
    await checkDirWritable(outputDir)
    const before = await snapshotOutputs(outputDir)
    let result: ReconstructionResult
    try {
      result = await reconstructFromBundle(
        path.resolve(cwd, flags.bundle),
        path.resolve(cwd, flags['test-data']),
        outputDir,
        {backend: flags.backend, M: flags['stitch-crop-size'], nGroups: flags['n-groups'], seed: flags.seed, onProgress: say},
      )
    } finally {
      // also after a failure: a reconstruction this run wrote must not stand beside another run's scores
      const removed = await removeStaleScores(outputDir, before).catch(() => [] as string[])
      if (removed.length > 0) {
        this.logToStderr(`removed ${removed.join(', ')} from ${outputDir}: an earlier run scored a reconstruction that this run replaced`)
      }
    }
    if (flags.json) {
      this.log(JSON.stringify(toJson(result), null, 2))
      return
    }
    this.log(summarize(result))
  }
}

/** The files only a scored run writes (the test data held objectGuess). */
export const SCORE_FILES = [
  'reconstruction_metrics.json',
  'ground_truth_amplitude.png',
  'ground_truth_phase.png',
  'comparison_amplitude.png',
  'comparison_phase.png',
] as const

type Snapshot = Map<string, number | undefined>

/** mtimes of reconstruction.npz and the score files (undefined: absent), to compare before and after a run. */
export async function snapshotOutputs(outputDir: string): Promise<Snapshot> {
  const snap: Snapshot = new Map()
  for (const name of ['reconstruction.npz', ...SCORE_FILES]) {
    snap.set(name, (await stat(path.join(outputDir, name)).catch(() => undefined))?.mtimeMs)
  }
  return snap
}

/**
 * When a run rewrote reconstruction.npz, score files it left untouched describe a reconstruction that is gone:
 * remove them, so that metrics never stand beside a reconstruction they did not score. Compares mtimes before
 * (`before`) and after the run, not clocks. Returns the names removed.
 */
export async function removeStaleScores(outputDir: string, before: Snapshot): Promise<string[]> {
  const after = await snapshotOutputs(outputDir)
  const npz = after.get('reconstruction.npz')
  if (npz === undefined || npz === before.get('reconstruction.npz')) return []
  const removed: string[] = []
  for (const name of SCORE_FILES) {
    const t = after.get(name)
    if (t === undefined || t !== before.get(name)) continue
    await rm(path.join(outputDir, name), {force: true})
    removed.push(name)
  }
  return removed
}

function toJson(r: ReconstructionResult): Record<string, unknown> {
  return {
    npz_path: r.npzPath,
    amplitude_png: r.amplitudePng,
    phase_png: r.phasePng,
    metrics_path: r.metricsPath ?? null,
    backend: r.backend ?? null,
    n_groups: r.nGroups,
    height: r.height,
    width: r.width,
    metrics: r.metrics ?? null,
    reference_alignment_metrics: r.referenceAlignmentMetrics ?? null,
  }
}

function summarize(r: ReconstructionResult): string {
  const lines = [`reconstruction (${r.height}×${r.width}, ${r.nGroups} groups${r.backend ? `, ${r.backend}` : ''}): ${r.npzPath}`]
  lines.push(`  images: ${r.amplitudePng}, ${r.phasePng}`)
  if (r.metrics) {
    const m = r.metrics
    const f = (v: number): string => (Number.isFinite(v) ? v.toFixed(4) : String(v))
    lines.push(`  vs ground truth (${m.height}×${m.width}):        amplitude   phase`)
    lines.push(`    SSIM                               ${f(m.ssim.amplitude)}      ${f(m.ssim.phase)}`)
    lines.push(`    correlation                        ${f(m.correlation.amplitude)}      ${f(m.correlation.phase)}`)
    lines.push(`    MAE                                ${f(m.mae.amplitude)}      ${f(m.mae.phase)}`)
    lines.push(`    PSNR (peak 255)                    ${f(m.psnr.amplitude)}    ${f(m.psnr.phase)}`)
    lines.push(`  metrics: ${r.metricsPath}`)
  } else {
    lines.push('  (no objectGuess in the test data: not scored)')
  }
  return lines.join('\n')
}
