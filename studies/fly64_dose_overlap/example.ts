/**
 * The example study: a small, complete phase C/D tree made on the fly from the built-in synthetic object and
 * probe (N = 64, 512 positions, 256 x 256 object, the design's three doses, dense and sparse views), so that
 * `study train --example` runs with no external data. It takes a few seconds and is reused when a complete
 * tree made with the same parameters is already there (checked through both run manifests and the sha256 of
 * every file); otherwise it is regenerated.
 */
import {existsSync} from 'node:fs'
import path from 'node:path'

import {digestFile} from '../../src/io/hash.js'
import {generateDoseSweep, type PhaseCManifest, readPhaseCManifest} from '../../src/pipeline/generate.js'
import {generateOverlapViews, type OverlapManifest, readOverlapManifest} from '../../src/pipeline/overlap.js'
import {doseDirName} from '../../src/overlap/layout.js'
import {getStudyDesign} from './design.js'
import {phaseCDefaults} from './generation.js'
import {OVERLAP_VIEWS} from './views.js'

export interface ExampleStudyPaths {
  phaseCRoot: string
  phaseDRoot: string
}

export interface ExampleStudyOptions {
  /** simulation seed (default: the design's simulation seed, 42) */
  seed?: number
  onProgress?: (message: string) => void
  /** recorded in the NPZ metadata and the phase C/D manifests, as `study generate`/`study overlap` record theirs */
  toolVersion?: string
  /** the command that made the data (e.g. `study train --example …`) */
  commandLine?: string[]
}

async function fileMatches(root: string, rel: string, sha256: string, size: number): Promise<boolean> {
  const file = path.join(root, rel)
  if (!existsSync(file)) return false
  const d = await digestFile(file)
  return d.sha256 === sha256 && d.size_bytes === size
}

async function phaseCComplete(root: string, seed: number, doses: number[]): Promise<PhaseCManifest | undefined> {
  const m = await readPhaseCManifest(root).catch(() => undefined)
  if (!m) return undefined
  const d = phaseCDefaults()
  const s = m.simulation
  if (s.source !== 'synthetic' || s.seed !== seed || s.N !== d.probeSize || s.n_images !== d.nImages) return undefined
  if (s.object_shape[0] !== d.objectSize || s.object_shape[1] !== d.objectSize) return undefined
  for (const dose of doses) {
    const e = m.doses[doseDirName(dose)]
    if (!e) return undefined
    for (const f of [e.files.train, e.files.test]) if (!(await fileMatches(root, f.path, f.sha256, f.size_bytes))) return undefined
  }
  return m
}

async function phaseDComplete(root: string, phaseC: PhaseCManifest, phaseCRoot: string, doses: number[]): Promise<boolean> {
  const m: OverlapManifest | undefined = await readOverlapManifest(root).catch(() => undefined)
  if (!m || path.resolve(m.phase_c_root) !== path.resolve(phaseCRoot)) return false
  for (const dose of doses) {
    const d = m.doses[doseDirName(dose)]
    const c = phaseC.doses[doseDirName(dose)]
    if (!d || !c) return false
    for (const [name, preset] of Object.entries(OVERLAP_VIEWS)) {
      const v = d.views[name]
      if (!v || JSON.stringify(v.preset) !== JSON.stringify(preset)) return false
      // made from exactly these phase C files
      if (v.sources.train.sha256 !== c.files.train.sha256 || v.sources.test.sha256 !== c.files.test.sha256) return false
      for (const f of [v.files.train, v.files.test]) if (!(await fileMatches(root, f.path, f.sha256, f.size_bytes))) return false
    }
  }
  return true
}

/** Make (or reuse) the example phase C/D tree under `outRoot`: `<outRoot>/phase_c` and `<outRoot>/phase_d`. */
export async function generateExampleStudy(outRoot: string, opts: ExampleStudyOptions = {}): Promise<ExampleStudyPaths> {
  const design = getStudyDesign()
  const seed = opts.seed ?? design.rng_seeds.simulation
  const phaseCRoot = path.resolve(outRoot, 'phase_c')
  const phaseDRoot = path.resolve(outRoot, 'phase_d')
  const doses = [...design.dose_list]
  let phaseC = await phaseCComplete(phaseCRoot, seed, doses)
  let regenerated = false
  if (!phaseC) {
    opts.onProgress?.(`example study: generating phase C in ${phaseCRoot}`)
    phaseC = (await generateDoseSweep({
        ...phaseCDefaults(design),
        outputRoot: phaseCRoot,
        doses,
        seed,
        onProgress: opts.onProgress,
        toolVersion: opts.toolVersion,
        commandLine: opts.commandLine,
      })).manifest
    regenerated = true
  }
  if (regenerated || !(await phaseDComplete(phaseDRoot, phaseC, phaseCRoot, doses))) {
    opts.onProgress?.(`example study: generating phase D in ${phaseDRoot}`)
    await generateOverlapViews({
      phaseCRoot,
      outputRoot: phaseDRoot,
      doses,
      views: Object.values(OVERLAP_VIEWS),
      onProgress: opts.onProgress,
      toolVersion: opts.toolVersion,
      commandLine: opts.commandLine,
    })
  } else {
    opts.onProgress?.(`example study: reusing ${phaseCRoot} and ${phaseDRoot}`)
  }
  return {phaseCRoot, phaseDRoot}
}
