/**
 * The two Keras callbacks of the reference training loop (spec §13.7), as plain state machines whose state
 * is saved in checkpoints: ReduceLROnPlateau(monitor='val_loss', factor=0.5, patience=2, min_lr=1e-4,
 * min_delta=1e-4, cooldown=0) and EarlyStopping(monitor='loss', patience=3, min_delta=0).
 */

export interface PlateauState {
  best: number
  wait: number
  cooldownCounter: number
}

export class ReduceLROnPlateau {
  state: PlateauState = {best: Infinity, wait: 0, cooldownCounter: 0}
  constructor(readonly opts = {factor: 0.5, patience: 2, minLr: 1e-4, minDelta: 1e-4, cooldown: 0}) {}

  /** Returns the learning rate to use from the next epoch on. A missing/NaN monitor leaves lr unchanged. */
  onEpochEnd(monitor: number | undefined, lr: number): number {
    if (monitor === undefined || !Number.isFinite(monitor)) return lr
    const s = this.state
    const inCooldown = s.cooldownCounter > 0
    if (inCooldown) {
      s.cooldownCounter--
      s.wait = 0
    }
    if (monitor < s.best - this.opts.minDelta) {
      s.best = monitor
      s.wait = 0
    } else if (!inCooldown) {
      s.wait++
      if (s.wait >= this.opts.patience) {
        // Keras compares against float32(min_lr)
        if (lr > Math.fround(this.opts.minLr)) {
          lr = Math.max(lr * this.opts.factor, this.opts.minLr)
          s.cooldownCounter = this.opts.cooldown
          s.wait = 0
        }
      }
    }
    return lr
  }
}

export interface EarlyStoppingState {
  best: number
  wait: number
  stoppedEpoch: number
}

export class EarlyStopping {
  state: EarlyStoppingState = {best: Infinity, wait: 0, stoppedEpoch: 0}
  constructor(readonly opts = {patience: 3, minDelta: 0}) {}

  /** epoch is 0-based; returns true when training should stop. */
  onEpochEnd(epoch: number, monitor: number | undefined): boolean {
    if (monitor === undefined || Number.isNaN(monitor)) return false
    const s = this.state
    s.wait++
    if (monitor - this.opts.minDelta < s.best) {
      s.best = monitor
      s.wait = 0
    }
    if (s.wait >= this.opts.patience && epoch > 0) {
      s.stoppedEpoch = epoch
      return true
    }
    return false
  }
}
