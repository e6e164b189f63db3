/**
 * `study reconstruct` as a real process from bin/run.js (needs dist/: `npx tsc -p tsconfig.json; npx oclif manifest`).
 */
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {describe, expect, it} from 'vitest'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const bin = path.join(root, 'bin/run.js')
const built = existsSync(path.join(root, 'dist/src/commands/reconstruct.js'))
const bundleSupport = existsSync(path.join(root, 'dist/src/model/bundle.js')) && existsSync(path.join(root, 'dist/src/model/predict.js'))
if (!built) console.log('[skip] study reconstruct CLI tests: dist/ is not built (run: npx tsc -p tsconfig.json; npx oclif manifest)')

function study(args: string[], cwd = root): {status: number | null; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [bin, ...args], {cwd, encoding: 'utf8', timeout: 300_000})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

describe.skipIf(!built)('study reconstruct (real process)', () => {
  it('a missing bundle exits 3 naming the file, and writes nothing', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'study-cli-rec-'))
    writeFileSync(path.join(dir, 'test.npz'), 'x')
    const r = study(['reconstruct', '--bundle', 'no-such.bundle', '--test-data', 'test.npz', '--output-dir', 'out'], dir)
    expect(r.status).toBe(3)
    expect(r.stderr).toMatch(/model bundle not found: .*no-such\.bundle/)
    expect(readdirSync(dir)).toEqual(['test.npz'])
  })

  it('a missing required flag is a usage error (exit 2)', () => {
    const r = study(['reconstruct', '--bundle', 'x'])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/Missing required flag (test-data|output-dir)/)
  })

  if (!bundleSupport) console.log('[skip] corrupt-bundle and end-to-end CLI checks: src/model/bundle.ts and predict.ts are not built')
  it.skipIf(!bundleSupport)('a corrupt bundle exits non-zero with a message naming the bundle file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'study-cli-rec-'))
    writeFileSync(path.join(dir, 'corrupt.bundle'), 'this is not a bundle')
    writeFileSync(path.join(dir, 'test.npz'), 'x')
    const r = study(['reconstruct', '--bundle', 'corrupt.bundle', '--test-data', 'test.npz', '--output-dir', 'out', '--backend', 'cpu'], dir)
    expect(r.status).not.toBe(0)
    expect(r.stderr).toMatch(/corrupt\.bundle/)
    expect(existsSync(path.join(dir, 'out', 'reconstruction.npz'))).toBe(false)
  })

  const bundle = process.env.STUDY_TEST_BUNDLE
  const npz = process.env.STUDY_TEST_NPZ
  if (!bundle || !npz) console.log('[skip] end-to-end CLI reconstruction: set STUDY_TEST_BUNDLE and STUDY_TEST_NPZ to a trained bundle and its test split')
  it.skipIf(!bundleSupport || !bundle || !npz)('reconstructs with a real trained bundle (STUDY_TEST_BUNDLE, STUDY_TEST_NPZ)', () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'study-cli-rec-'))
    const r = study(['reconstruct', '--bundle', bundle!, '--test-data', npz!, '--output-dir', out, '--json'])
    expect(r.status).toBe(0)
    const res = JSON.parse(r.stdout) as {npz_path: string; metrics: {ssim: {phase: number}} | null}
    expect(existsSync(res.npz_path)).toBe(true)
    if (res.metrics) expect(JSON.parse(readFileSync(path.join(out, 'reconstruction_metrics.json'), 'utf8')).schema_version).toBe(1)
  })
})
