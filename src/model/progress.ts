/**
 * Progress of a training job: a live single line on a terminal, plain lines otherwise.
 */
import type {ProgressEvent} from '../runners/types.js'

export function formatDuration(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '?'
  const t = Math.max(0, Math.round(s))
  const h = Math.floor(t / 3600)
  const m = Math.floor((t % 3600) / 60)
  const sec = t % 60
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`
}

function num(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '-'
  return Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(4) : x.toFixed(4)
}

/** One human line for a progress event. */
export function formatProgress(e: ProgressEvent, label = ''): string {
  const parts = [`${label ? label + ' ' : ''}epoch ${e.epoch}/${e.nepochs}`]
  if (e.message) parts.push(e.message)
  parts.push(`loss ${num(e.loss)}`, `val_loss ${num(e.val_loss)}`, `lr ${e.lr !== undefined ? e.lr.toExponential(1) : '-'}`)
  parts.push(`elapsed ${formatDuration(e.elapsed_s)}`, `ETA ${formatDuration(e.eta_s)}`)
  return parts.join('  ')
}

export interface ProgressRenderer {
  update(e: ProgressEvent): void
  /** an epoch finished: on a terminal the live line is kept, otherwise a plain line is printed */
  epochEnd(e: ProgressEvent): void
  done(): void
}

/** Renders to a stream: live (\r-rewritten) when it is a TTY, one plain line per epoch otherwise. */
export function streamRenderer(stream: NodeJS.WriteStream = process.stderr, label = ''): ProgressRenderer {
  const tty = Boolean(stream.isTTY)
  let live = false
  const width = () => Math.max(20, (stream.columns ?? 120) - 1)
  return {
    update(e) {
      if (!tty) return
      const line = formatProgress(e, label).slice(0, width())
      stream.write(`\r\x1b[2K${line}`)
      live = true
    },
    epochEnd(e) {
      const line = formatProgress(e, label)
      if (tty) {
        stream.write(`\r\x1b[2K${line.slice(0, width())}\n`)
        live = false
      } else stream.write(line + '\n')
    },
    done() {
      if (tty && live) stream.write('\n')
      live = false
    },
  }
}
