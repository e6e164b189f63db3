/** Worker thread of DiffractionPool: simulates a slice of patterns into shared output buffers. */
import {parentPort} from 'node:worker_threads'

import {type PatternJob, simulatePatterns} from './forward-model.js'

parentPort?.on('message', (msg: {job: PatternJob; first: number; last: number}) => {
  try {
    simulatePatterns(msg.job, msg.first, msg.last)
    parentPort?.postMessage({ok: true})
  } catch (error) {
    parentPort?.postMessage({ok: false, message: (error as Error).stack ?? String(error)})
  }
})
