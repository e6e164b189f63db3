/**
 * Test helper: run numpy/scipy reference code in python3 (skip where absent).
 * Arrays go through raw little-endian float64 files in a temp folder; results come back as JSON on stdout.
 */
import {execFileSync, spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

function canImport(mod: string): boolean {
  const r = spawnSync('python3', ['-c', `import ${mod}`], {stdio: 'ignore'})
  return r.status === 0
}

export const hasNumpy = canImport('numpy')
export const hasScipy = hasNumpy && canImport('scipy')
export const hasSkimage = hasNumpy && canImport('skimage')

export function noteSkip(what: string, needed: string): void {
  console.log(`[skip] ${what}: python3 with ${needed} is not available here`)
}

/**
 * Run `script` with python3. `arrays` are written as float64 files; inside the script `arr(name)` returns
 * the 1-D array and `out(obj)` prints JSON. Returns the parsed JSON.
 */
export function runPython<T = unknown>(script: string, arrays: Record<string, ArrayLike<number>> = {}): T {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'study-py-'))
  try {
    for (const [name, values] of Object.entries(arrays)) {
      writeFileSync(path.join(dir, `${name}.f64`), Buffer.from(Float64Array.from(values).buffer))
    }
    const prelude = [
      'import json, os, sys',
      'import numpy as np',
      `_dir = ${JSON.stringify(dir)}`,
      "def arr(name): return np.fromfile(os.path.join(_dir, name + '.f64'), dtype='<f8')",
      'def out(obj): print(json.dumps(obj))',
    ].join('\n')
    const stdout = execFileSync('python3', ['-c', `${prelude}\n${script}`], {encoding: 'utf8', maxBuffer: 1 << 28})
    return JSON.parse(stdout.trim().split('\n').pop() ?? 'null') as T
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}
