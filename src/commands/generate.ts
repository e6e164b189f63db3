import path from 'node:path'

import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {UsageError} from '../errors.js'
import {generateDoseSweep, type PhaseCManifest} from '../pipeline/generate.js'
import {phaseCDefaults} from '../../studies/fly64_dose_overlap/generation.js'

export default class Generate extends BaseCommand {
  static override summary = 'Phase C: simulate the dose sweep (diffraction with Poisson noise, ground truth, y split).'

  static override description = `Writes <output-root>/dose_<d>/patched_{train,test}.npz (DATA-001 keys, JSON _metadata) and <output-root>/run_manifest.json. By default it uses the built-in synthetic object and focused probe (N=64, 512 positions: a small, fast study); --base-npz takes objectGuess and probeGuess from a file instead. Each split is validated before success.`

  static override examples = [
    '<%= config.bin %> generate',
    '<%= config.bin %> generate --output-root data/phase_c --dose 1000 --dose 100000',
    '<%= config.bin %> generate --probe-size 128 --object-size 464 --n-images 10304',
    '<%= config.bin %> generate --base-npz fly64_prepared.npz --output-root data/phase_c --json',
  ]

  static override flags = {
    'output-root': Flags.string({description: 'phase C root folder (dose_<d>/ folders go here)', default: 'data/fly64_dose_overlap/phase_c'}),
    dose: Flags.string({description: 'photons per exposure; repeatable (default: the design doses 1e3, 1e4, 1e5)', multiple: true}),
    'n-images': Flags.integer({description: 'number of scan positions (default 512; with --base-npz: its number of xcoords)', min: 2}),
    'object-size': Flags.integer({description: 'side of the synthetic object in pixels (default 256)', min: 8}),
    'probe-size': Flags.string({description: 'N of the synthetic probe (default 64)', options: ['64', '128', '256']}),
    seed: Flags.integer({description: 'simulation seed: positions, synthetic object; Poisson seeds derive from it (default: the design seed 42)'}),
    'base-npz': Flags.string({description: 'NPZ with objectGuess (complex H x W) and probeGuess (complex N x N) to use instead of the synthetic ones'}),
    workers: Flags.integer({description: 'simulation worker threads (default: one per core); the files do not depend on it', min: 1}),
    compress: Flags.boolean({description: 'deflate the NPZ members like numpy savez_compressed (smaller, slower)', default: false}),
    json: Flags.boolean({description: 'print the run manifest as JSON on stdout (progress goes to stderr)', default: false}),
    force: Flags.boolean({
      description: 'remove dose folders under --output-root that come from another simulation (or from no recorded run) instead of refusing to mix them with this run',
      default: false,
    }),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Generate)
    const defaults = phaseCDefaults()
    const cwd = process.cwd()
    const doses = flags.dose?.map((d) => Number(d))
    if (doses?.some((d) => !Number.isFinite(d))) throw new UsageError(`--dose must be a number, got ${flags.dose?.join(', ')}`)
    const outputRoot = path.resolve(cwd, flags['output-root'])
    const say = (msg: string): void => (flags.json ? this.logToStderr(msg) : this.log(msg))
    const result = await generateDoseSweep({
      ...defaults,
      outputRoot,
      doses: doses ?? defaults.doses,
      nImages: flags['n-images'] ?? (flags['base-npz'] ? undefined : defaults.nImages),
      objectSize: flags['object-size'] ?? defaults.objectSize,
      probeSize: flags['probe-size'] !== undefined ? Number(flags['probe-size']) : defaults.probeSize,
      seed: flags.seed ?? defaults.seed,
      baseNpz: flags['base-npz'] ? path.resolve(cwd, flags['base-npz']) : undefined,
      compress: flags.compress,
      workers: flags.workers,
      force: flags.force,
      commandLine: ['study', 'generate', ...this.argv],
      toolVersion: this.config.version,
      onProgress: say,
    })
    for (const w of result.manifest.warnings) this.logToStderr(`warning: ${w}`)
    if (flags.json) {
      this.log(JSON.stringify({manifest_path: result.manifestPath, ...result.manifest}, null, 2))
      return
    }
    this.log(summarize(result.manifest, result.manifestPath))
  }
}

function summarize(m: PhaseCManifest, manifestPath: string): string {
  const lines = [`phase C written: ${m.phase_c_root}`, `  N=${m.simulation.N}, ${m.simulation.n_images} positions, seed ${m.simulation.seed}`]
  for (const [k, d] of Object.entries(m.doses)) {
    lines.push(`  ${k}: ${d.train} (${d.files.train.n_images}), ${d.test} (${d.files.test.n_images}), mean photons/pattern ${d.mean_photons_per_pattern.toFixed(1)}`)
  }
  lines.push(`  manifest: ${manifestPath}`)
  return lines.join('\n')
}
