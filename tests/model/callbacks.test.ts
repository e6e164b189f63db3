import {describe, expect, it} from 'vitest'
import {EarlyStopping, ReduceLROnPlateau} from '../../src/model/callbacks.js'

describe('ReduceLROnPlateau(val_loss, factor 0.5, patience 2, min_lr 1e-4, min_delta 1e-4)', () => {
  it('halves the rate after 2 epochs without an improvement larger than min_delta, never below min_lr', () => {
    const cb = new ReduceLROnPlateau()
    let lr = 1e-3
    const seen: number[] = []
    // 1.0 best; 0.99995 is within min_delta (no improvement); 1.2 worse -> reduce at the 2nd bad epoch
    for (const v of [1.0, 0.99995, 1.2, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1, 1, 1, 1, 1, 1, 1]) {
      lr = cb.onEpochEnd(v, lr)
      seen.push(lr)
    }
    expect(seen.slice(0, 4)).toEqual([1e-3, 1e-3, 5e-4, 5e-4])
    expect(seen[5]).toBe(2.5e-4) // 0.6, 0.7 after the 0.5 best
    expect(seen[7]).toBe(1.25e-4)
    expect(Math.min(...seen)).toBe(1e-4)
  })
  it('ignores a missing val_loss (no validation data)', () => {
    const cb = new ReduceLROnPlateau()
    expect(cb.onEpochEnd(undefined, 1e-3)).toBe(1e-3)
    expect(cb.onEpochEnd(NaN, 1e-3)).toBe(1e-3)
  })
})

describe('EarlyStopping(loss, patience 3)', () => {
  it('stops at the 3rd epoch in a row without improvement', () => {
    const cb = new EarlyStopping()
    const losses = [5, 4, 4, 4.5, 4.1, 3.9]
    const stops = losses.map((l, e) => cb.onEpochEnd(e, l))
    expect(stops).toEqual([false, false, false, false, true, false])
  })
})
