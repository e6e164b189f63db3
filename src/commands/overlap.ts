import path from 'node:path'

import {Flags} from '@oclif/core'

import {UsageError} from '../errors.js'
import {BaseCommand} from '../cli/base-command.js'
import {doseDirName} from '../overlap/layout.js'
import {readPhaseCManifest} from '../pipeline/generate.js'
import {formatOverlapTable, generateOverlapViews, type OverlapViewSpec} from '../pipeline/overlap.js'
import {getStudyDesign} from '../../studies/fly64_dose_overlap/design.js'
import {OVERLAP_VIEWS} from '../../studies/fly64_dose_overlap/views.js'

export default class Overlap extends BaseCommand {
  static override summary = 'Phase D: build the dense/sparse overlap views and their v2 overlap metrics.'

  static override description = `Reads <phase-c-root>/dose_<d>/patched_{train,test}.npz and writes <output-root>/dose_<d>/<view>/<view>_{train,test}.npz, {train,test}_metrics.json, metrics_bundle.json and <output-root>/overlap_manifest.json. Views are the study's presets (dense: every image; sparse: s_img 0.140625); the override flags apply to every selected view.`

  static override examples = [
    '<%= config.bin %> overlap',
    '<%= config.bin %> overlap --phase-c-root data/phase_c --output-root data/phase_d --dose 1000 --view dense',
    '<%= config.bin %> overlap --view sparse --s-img 0.25 --n-groups 128 --json',
  ]

  static override flags = {
    'phase-c-root': Flags.string({description: 'phase C root (holds dose_<d>/patched_{train,test}.npz)', default: 'data/fly64_dose_overlap/phase_c'}),
    'output-root': Flags.string({description: 'phase D root to write', default: 'data/fly64_dose_overlap/phase_d'}),
    dose: Flags.string({description: "dose to process; repeatable (default: the doses in the phase C root's run_manifest.json, else the design doses)", multiple: true}),
    view: Flags.string({description: `view preset; repeatable (default: all: ${Object.keys(OVERLAP_VIEWS).join(', ')})`, multiple: true}),
    's-img': Flags.string({description: 'override: fraction of images kept, in (0, 1]'}),
    'n-groups': Flags.integer({description: 'override: number of groups for the gs2 metrics', min: 1}),
    'neighbor-count': Flags.integer({description: 'override: K nearest neighbours for Metrics 1 and 2', min: 1}),
    'probe-diameter-px': Flags.string({description: 'override: probe footprint diameter D in pixels'}),
    gridsize: Flags.string({description: 'override: gridsize of the metrics groups', options: ['1', '2']}),
    seed: Flags.integer({description: 'override: subsampling seed (rng_seed_subsample)'}),
    compress: Flags.boolean({description: 'deflate the NPZ members', default: false}),
    json: Flags.boolean({description: 'print the overlap manifest as JSON on stdout', default: false}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Overlap)
    const design = getStudyDesign()
    const cwd = process.cwd()
    const num = (name: string, v: string | undefined): number | undefined => {
      if (v === undefined) return undefined
      const x = Number(v)
      if (!Number.isFinite(x)) throw new UsageError(`--${name} must be a number, got '${v}'`)
      return x
    }
    // default: the doses the phase C root's run_manifest.json lists (a root made with `generate --dose 5000` has only
    // that one), else the design's
    const phaseCRoot = path.resolve(cwd, flags['phase-c-root'])
    const recorded = flags.dose ? undefined : await readPhaseCManifest(phaseCRoot).catch(() => undefined)
    const recordedDoses = recorded ? Object.values(recorded.doses).map((d) => d.dose).sort((a, b) => a - b) : []
    const doses = flags.dose ? flags.dose.map((d) => num('dose', d)!) : recordedDoses.length > 0 ? recordedDoses : [...design.dose_list]
    const names = flags.view ?? Object.keys(OVERLAP_VIEWS)
    const unknown = names.filter((n) => !(n in OVERLAP_VIEWS))
    if (unknown.length > 0) throw new UsageError(`unknown view(s) ${unknown.join(', ')}; the study's views are ${Object.keys(OVERLAP_VIEWS).join(', ')}`)
    const sImg = num('s-img', flags['s-img'])
    const diameter = num('probe-diameter-px', flags['probe-diameter-px'])
    const views: OverlapViewSpec[] = names.map((n) => ({
      ...OVERLAP_VIEWS[n],
      ...(sImg !== undefined ? {s_img: sImg} : {}),
      ...(flags['n-groups'] !== undefined ? {n_groups: flags['n-groups']} : {}),
      ...(flags['neighbor-count'] !== undefined ? {neighbor_count: flags['neighbor-count']} : {}),
      ...(diameter !== undefined ? {probe_diameter_px: diameter} : {}),
      ...(flags.gridsize !== undefined ? {gridsize: Number(flags.gridsize)} : {}),
      ...(flags.seed !== undefined ? {rng_seed_subsample: flags.seed} : {}),
    }))
    const say = (msg: string): void => (flags.json ? this.logToStderr(msg) : this.log(msg))
    const result = await generateOverlapViews({
      phaseCRoot,
      outputRoot: path.resolve(cwd, flags['output-root']),
      doses,
      views,
      compress: flags.compress,
      commandLine: ['study', 'overlap', ...this.argv],
      toolVersion: this.config.version,
      onProgress: say,
    })
    if (flags.json) {
      this.log(JSON.stringify({manifest_path: result.manifestPath, ...result.manifest}, null, 2))
      return
    }
    this.log(formatOverlapTable(result.manifest, doses.map(doseDirName), names))
    this.log(`manifest: ${result.manifestPath}`)
  }
}
