/**
 * `study train --example` as a real process with the stub runner: example data generated on the fly, the
 * default artifact root, the short example settings, all 9 jobs.
 */
import {spawnSync} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {describe, expect, it} from 'vitest'

import {tempDir} from '../pipeline/fixtures.js'

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const bin = path.join(repo, 'bin', 'run.js')

describe('study train --example (CLI)', () => {
  it('trains all 9 jobs of the generated example study into ./study-out/example with short settings', () => {
    const cwd = tempDir('study-example-')
    const r = spawnSync(process.execPath, [bin, 'train', '--example', '--runner', 'stub', '--json', '--nepochs', '3'], {cwd, encoding: 'utf8', timeout: 300_000})
    expect(r.status, r.stderr).toBe(0)
    const summary = JSON.parse(r.stdout)
    expect(summary.artifact_root).toBe(path.join(cwd, 'study-out', 'example'))
    expect(summary.summary).toMatchObject({selected: 9, succeeded: 9, failed: 0})
    const manifest = JSON.parse(readFileSync(summary.manifest_path, 'utf8'))
    // example settings, with the user's --nepochs winning
    expect(manifest.overrides).toEqual({nepochs: 3, n_groups: 32, model: {n_filters_scale: 1}})
    expect(manifest.skipped_count).toBe(0)
    // the example data record the tool's version and the command that made them, as study generate/overlap do
    const version = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')).version
    const args = ['study', 'train', '--example', '--runner', 'stub', '--json', '--nepochs', '3']
    for (const f of ['data/phase_c/run_manifest.json', 'data/phase_d/overlap_manifest.json']) {
      const m = JSON.parse(readFileSync(path.join(summary.artifact_root, f), 'utf8'))
      expect(m.tool_version, f).toBe(version)
      expect(m.command_line, f).toEqual(args)
    }
    for (const j of manifest.jobs) {
      expect(j.train_data_path.startsWith('data/phase_')).toBe(true)
      expect(existsSync(path.join(summary.artifact_root, j.train_data_path))).toBe(true)
      const call = JSON.parse(readFileSync(path.join(summary.artifact_root, j.artifact_dir, 'stub_call.json'), 'utf8'))
      expect(call.config).toMatchObject({nepochs: 3, n_groups: 32, nphotons: j.dose})
      expect(call.config.model).toMatchObject({n_filters_scale: 1, gridsize: j.gridsize, N: 64})
    }
  }, 600_000)

  it('a real tfjs job in a non-terminal (a log file, CI): one plain progress line per epoch, no per-step lines (10 steps of ~0.3 s per epoch)', () => {
    const cwd = tempDir('study-example-tfjs-')
    const r = spawnSync(
      process.execPath,
      [bin, 'train', '--example', '--runner', 'tfjs', '--backend', 'wasm', '--dose', '1000', '--view', 'baseline', '--nepochs', '3', '--n-groups', '160', '--jobs', '1'],
      {cwd, encoding: 'utf8', timeout: 300_000},
    )
    expect(r.status, r.stderr).toBe(0)
    const progress = r.stderr.split('\n').filter((l) => /\bepoch \d+\/3\b/.test(l))
    expect(progress, r.stderr).toHaveLength(3)
    progress.forEach((l, i) => expect(l).toMatch(new RegExp(`^baseline dose=1e\\+03 gs1 epoch ${i + 1}/3  done  loss -?\\d`)))
    // every epoch after the first reports a validation loss
    for (const l of progress.slice(1)) expect(l).toMatch(/val_loss -?\d+\.\d+/)
    expect(r.stderr).not.toMatch(/step \d+\//)
    expect(r.stderr).not.toContain('\r')
  }, 600_000)
})
