/**
 * An n-dimensional array as numpy stores it in .npy: a dtype descriptor, a shape and flat C-order data.
 * This is the one array type shared by io/, physics/, pipeline/ and model/.
 *
 * dtype is numpy's descriptor string, normalised to little-endian where it has an order:
 *   '<f4' '<f8' '<c8' '<c16' '|i1' '<i2' '<i4' '<i8' '|u1' '<u2' '<u4' '<u8' '|b1' '<U{n}' '|S{n}'
 * data layout by dtype:
 *   f4 -> Float32Array, f8 -> Float64Array,
 *   c8 -> Float32Array interleaved [re0, im0, re1, im1, ...] (length 2*size), c16 -> Float64Array interleaved,
 *   i1/i2/i4 -> Int8Array/Int16Array/Int32Array, i8 -> BigInt64Array,
 *   u1/u2/u4 -> Uint8Array/Uint16Array/Uint32Array, u8 -> BigUint64Array,
 *   b1 -> Uint8Array (0/1),
 *   U{n}, S{n} -> string[] (S decoded as latin1).
 * A 0-d array has shape [] and one element.
 */
export type NdData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | string[]

export interface NdArray {
  dtype: string
  shape: number[]
  data: NdData
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1)
}

export function isComplexDtype(dtype: string): boolean {
  return /^[<>|=]?c(8|16)$/.test(dtype)
}

export function isFloatDtype(dtype: string): boolean {
  return /^[<>|=]?f(2|4|8)$/.test(dtype)
}

export function isIntDtype(dtype: string): boolean {
  return /^[<>|=]?[iu][1248]$/.test(dtype)
}

export function float32(shape: number[], data?: Float32Array): NdArray {
  return {dtype: '<f4', shape, data: data ?? new Float32Array(sizeOf(shape))}
}

export function float64(shape: number[], data?: Float64Array): NdArray {
  return {dtype: '<f8', shape, data: data ?? new Float64Array(sizeOf(shape))}
}

/** complex64 with interleaved (re, im) float32 data */
export function complex64(shape: number[], data?: Float32Array): NdArray {
  return {dtype: '<c8', shape, data: data ?? new Float32Array(2 * sizeOf(shape))}
}

/** 0-d unicode string array (numpy reads it without allow_pickle) */
export function unicodeScalar(value: string): NdArray {
  return {dtype: `<U${Math.max(1, [...value].length)}`, shape: [], data: [value]}
}

/** Numeric data as plain numbers (bigints converted); throws for string/complex arrays. */
export function toFloat64(arr: NdArray): Float64Array {
  if (Array.isArray(arr.data)) throw new TypeError(`dtype ${arr.dtype} is not numeric`)
  if (isComplexDtype(arr.dtype)) throw new TypeError(`dtype ${arr.dtype} is complex`)
  const out = new Float64Array(arr.data.length)
  const d = arr.data as ArrayLike<number | bigint>
  for (let i = 0; i < out.length; i++) out[i] = Number(d[i])
  return out
}
