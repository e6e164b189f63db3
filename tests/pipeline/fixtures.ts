/**
 * Test fixtures for the training pipeline: small valid NPZ files written without numpy (a tiny .npy
 * encoder + fflate zip), phase C/D trees in the study layout, and a numpy probe.
 */
import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {zipSync} from 'fflate'

export interface FixtureArray {
  /** numpy descr, e.g. '<f4', '<c16' */
  dtype: string
  shape: number[]
}

const ITEM_SIZE: Record<string, number> = {'<f4': 4, '<f8': 8, '<c8': 8, '<c16': 16, '<i8': 8, '|u1': 1}

/** A .npy file with the given dtype and shape, filled with zeros (values do not matter to the pipeline). */
export function npyBytes(arr: FixtureArray): Uint8Array {
  const shape = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`
  let header = `{'descr': '${arr.dtype}', 'fortran_order': False, 'shape': ${shape}, }`
  const total = 10 + header.length + 1
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n'
  const size = arr.shape.reduce((a, b) => a * b, 1) * (ITEM_SIZE[arr.dtype] ?? 4)
  const out = new Uint8Array(10 + header.length + size)
  out.set([0x93, ...Buffer.from('NUMPY', 'latin1'), 1, 0], 0)
  new DataView(out.buffer).setUint16(8, header.length, true)
  out.set(Buffer.from(header, 'latin1'), 10)
  return out
}

export function writeFixtureNpz(file: string, arrays: Record<string, FixtureArray>, opts: {deflate?: boolean} = {}): void {
  mkdirSync(path.dirname(file), {recursive: true})
  const members: Record<string, Uint8Array> = {}
  for (const [name, arr] of Object.entries(arrays)) members[`${name}.npy`] = npyBytes(arr)
  writeFileSync(file, zipSync(members, {level: opts.deflate ? 6 : 0}))
}

/** The reference fixture members (spec §14): diffraction (n, N, N) f32, object, probe, coords. */
export function studyArrays(n: number, N = 64): Record<string, FixtureArray> {
  return {
    diffraction: {dtype: '<f4', shape: [n, N, N]},
    objectGuess: {dtype: '<c16', shape: [2 * N, 2 * N]},
    probeGuess: {dtype: '<c16', shape: [N, N]},
    xcoords: {dtype: '<f4', shape: [n]},
    ycoords: {dtype: '<f4', shape: [n]},
  }
}

export const DOSES = [1000, 10000, 100000]

export interface StudyTree {
  base: string
  phaseC: string
  phaseD: string
  artifacts: string
}

/** phase_c/dose_{d}/patched_{train,test}.npz and phase_d/dose_{d}/{view}/{view}_{split}.npz (or v2 {split}.npz) */
export function makeStudyTree(
  base: string,
  opts: {doses?: number[]; views?: string[]; naming?: 'v1' | 'v2'; N?: number; missing?: string[]} = {},
): StudyTree {
  const doses = opts.doses ?? DOSES
  const views = opts.views ?? ['dense', 'sparse']
  const phaseC = path.join(base, 'phase_c')
  const phaseD = path.join(base, 'phase_d')
  for (const d of doses) {
    for (const split of ['train', 'test']) {
      writeFixtureNpz(path.join(phaseC, `dose_${d}`, `patched_${split}.npz`), studyArrays(10, opts.N ?? 64), {deflate: true})
      for (const view of views) {
        const name = opts.naming === 'v2' ? `${split}.npz` : `${view}_${split}.npz`
        const rel = `dose_${d}/${view}/${name}`
        if (opts.missing?.some((m) => rel.startsWith(m))) continue
        writeFixtureNpz(path.join(phaseD, rel), studyArrays(5, opts.N ?? 64))
      }
    }
  }
  return {base, phaseC, phaseD, artifacts: path.join(base, 'artifacts')}
}

export function tempDir(prefix = 'study-train-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix))
}

export const hasNumpy = (() => {
  try {
    execFileSync('python3', ['-c', 'import numpy'], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
})()
if (!hasNumpy) console.warn('python3 with numpy not found: numpy-written fixture tests are skipped')

/** Write an NPZ with numpy (np.savez or np.savez_compressed); arrays given as python expressions. */
export function numpyNpz(file: string, arrays: Record<string, string>, compressed = true): void {
  numpyNpzMany({[file]: arrays}, compressed)
}

/** Several NPZs in one python3 run (each run costs ~0.3 s of numpy import). */
export function numpyNpzMany(files: Record<string, Record<string, string>>, compressed = true): void {
  const lines = ['import numpy as np, sys']
  Object.entries(files).forEach(([file, arrays], i) => {
    mkdirSync(path.dirname(file), {recursive: true})
    const args = Object.entries(arrays)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')
    lines.push(`np.${compressed ? 'savez_compressed' : 'savez'}(sys.argv[${i + 1}], ${args})`)
  })
  execFileSync('python3', ['-c', lines.join('\n'), ...Object.keys(files)])
}
