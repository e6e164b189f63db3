import {describe, expect, it} from 'vitest'
import {formatDuration, formatProgress, streamRenderer} from '../../src/model/progress.js'

function fakeStream(isTTY: boolean) {
  const chunks: string[] = []
  return {chunks, stream: {isTTY, columns: 200, write: (s: string) => chunks.push(s) > 0} as unknown as NodeJS.WriteStream}
}

const event = {epoch: 3, nepochs: 50, loss: -2500.5, val_loss: -2400.25, lr: 1e-3, elapsed_s: 100, eta_s: 1570, message: 'step 12/31'}

describe('training progress', () => {
  it('one line with epoch, loss, val_loss, lr, elapsed and ETA', () => {
    expect(formatProgress(event, '[baseline gs1]')).toBe(
      '[baseline gs1] epoch 3/50  step 12/31  loss -2500.5000  val_loss -2400.2500  lr 1.0e-3  elapsed 1m40s  ETA 26m10s',
    )
    expect(formatDuration(3725)).toBe('1h02m')
    expect(formatProgress({epoch: 1, nepochs: 2})).toContain('loss -  val_loss -  lr -')
  })

  it('rewrites one live line on a terminal', () => {
    const {chunks, stream} = fakeStream(true)
    const r = streamRenderer(stream)
    r.update(event)
    r.update({...event, message: 'step 13/31'})
    r.epochEnd({...event, message: 'done'})
    r.done()
    expect(chunks.every((c) => c.startsWith('\r\x1b[2K'))).toBe(true)
    expect(chunks.filter((c) => c.endsWith('\n'))).toHaveLength(1)
  })

  it('prints plain lines, one per epoch, when not a terminal', () => {
    const {chunks, stream} = fakeStream(false)
    const r = streamRenderer(stream)
    r.update(event)
    r.epochEnd({...event, message: 'done'})
    r.done()
    expect(chunks).toHaveLength(1)
    expect(chunks[0]).toMatch(/^epoch 3\/50 {2}done .*\n$/)
    expect(chunks[0]).not.toContain('\r')
  })
})
