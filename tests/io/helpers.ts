/** Shared helpers for the io tests: numpy availability, temp dirs, reference comparison. */
import {spawnSync} from 'node:child_process'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import type {NdArray} from '../../src/io/ndarray.js'

export const here = path.dirname(fileURLToPath(import.meta.url))
export const interopScript = path.join(here, 'numpy_interop.py')

export const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], {encoding: 'utf8'}).status === 0
if (!hasNumpy) console.warn('[tests/io] python3 with numpy not found: skipping the numpy interop tests (pure-JS tests still run)')

export function tempDir(prefix = 'study-io-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix))
}

export function python(args: string[], input?: string): string {
  const r = spawnSync('python3', args, {encoding: 'utf8', input, maxBuffer: 256 << 20})
  if (r.status !== 0) throw new Error(`python3 ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

/** What numpy_interop.py prints for one array. */
export interface Described {
  dtype: string
  shape: number[]
  fortran: boolean
  values: Array<string | boolean | [string, string]>
}

export function littleEndian(descr: string): string {
  const m = /^([<>|=])([a-zA-Z])(\d+)$/.exec(descr)
  if (!m) return descr
  const [, , k, n] = m
  return Number(n) === 1 || k === 'S' || k === 'b' ? `|${k}${n}` : `<${k}${n}`
}

function pyFloat(s: string): number {
  if (s === 'nan') return Number.NaN
  if (s === 'inf') return Number.POSITIVE_INFINITY
  if (s === '-inf') return Number.NEGATIVE_INFINITY
  return Number(s)
}

/** Build an NdArray from numpy's description (values flattened in C order), independent of our reader. */
export function fromDescribed(d: Described): NdArray {
  const dtype = littleEndian(d.dtype)
  const kind = dtype[1]
  const size = Number(dtype.slice(2))
  const v = d.values
  switch (kind) {
    case 'f':
      return {dtype, shape: d.shape, data: (size === 4 ? Float32Array : Float64Array).from(v.map((x) => pyFloat(x as string)))}
    case 'c':
      return {
        dtype,
        shape: d.shape,
        data: (size === 8 ? Float32Array : Float64Array).from(v.flatMap((x) => (x as [string, string]).map(pyFloat))),
      }
    case 'i':
    case 'u': {
      const ctor = {i1: Int8Array, i2: Int16Array, i4: Int32Array, u1: Uint8Array, u2: Uint16Array, u4: Uint32Array}[`${kind}${size}`]
      if (ctor) return {dtype, shape: d.shape, data: ctor.from(v.map((x) => Number(x)))}
      const big = kind === 'i' ? BigInt64Array : BigUint64Array
      return {dtype, shape: d.shape, data: big.from(v.map((x) => BigInt(x as string)))}
    }
    case 'b':
      return {dtype, shape: d.shape, data: Uint8Array.from(v.map((x) => (x ? 1 : 0)))}
    case 'U':
    case 'S':
      return {dtype, shape: d.shape, data: v as string[]}
  }
  throw new Error(`no builder for ${d.dtype}`)
}

/** Plain values for deep equality: numbers (NaN-safe via Object.is in toEqual), bigints as strings. */
export function plain(arr: NdArray): unknown[] {
  return Array.from(arr.data as ArrayLike<unknown>, (x) => (typeof x === 'bigint' ? x.toString() : x))
}
