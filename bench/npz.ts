/**
 * NPZ read throughput and memory, ours vs numpy, on the same files.
 *
 * numpy writes a ~35 MB NPZ (diffraction float32 (2100, 64, 64) + coordinates) twice: stored (np.savez) and
 * deflated (np.savez_compressed). Then, medians of 5:
 *   ours:  listNpz(file) + readNpz(file, {members: ['diffraction']})
 *   numpy: np.load(file)['diffraction']
 * and, each in a fresh process, the peak RSS added by one read (ours: maxRSS delta of a node child; numpy:
 * ru_maxrss delta of a python child). Also: writeNpz vs np.savez / np.savez_compressed, and `study validate`'s
 * streamed check of the same files.
 */
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {createInterface} from 'node:readline'
import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

import {validateNpzFile} from '../src/data/dataset-contract.js'
import {listNpz, readNpz, writeNpz} from '../src/io/npz.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const npzModule = pathToFileURL(path.join(here, '../src/io/npz.js')).href
const REPEATS = 5

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

function py(code: string, ...args: string[]): string | undefined {
  const r = spawnSync('python3', ['-c', code, ...args], {encoding: 'utf8', maxBuffer: 64 << 20})
  return r.status === 0 ? r.stdout : undefined
}

const MAKE = `
import numpy as np, sys
d = sys.argv[1]
rng = np.random.default_rng(0)
n, N = 2100, 64
# diffraction-like amplitudes: a smooth central peak times noise, so deflate has something (but not much) to do
yy, xx = np.mgrid[-N//2:N//2, -N//2:N//2]
env = np.exp(-(xx**2 + yy**2) / (2 * 12.0**2)).astype(np.float32)
diff = (env[None] * rng.random((n, N, N), dtype=np.float32)).astype(np.float32)
xc = rng.uniform(0, 400, n); yc = rng.uniform(0, 400, n)
obj = (np.exp(1j * rng.random((256, 256))) * 0.9).astype(np.complex64)
probe = (env * np.exp(1j * env)).astype(np.complex64)
extra = dict(objectGuess=obj, probeGuess=probe, xcoords=xc, ycoords=yc)
np.savez(d + '/stored.npz', diffraction=diff, **extra)
np.savez_compressed(d + '/deflated.npz', diffraction=diff, **extra)
`

// a persistent numpy worker, so that our runs and numpy's alternate and see the same machine load
const NUMPY_WORKER = `
import numpy as np, sys, time, json
for line in sys.stdin:
    f = line.strip()
    t = time.perf_counter()
    with np.load(f) as z:
        a = z['diffraction']
    dt = time.perf_counter() - t
    del a
    print(json.dumps(dt), flush=True)
`

function numpyWorker(): {time: (file: string) => Promise<number>; close: () => void} {
  const child = spawn('python3', ['-c', NUMPY_WORKER], {stdio: ['pipe', 'pipe', 'inherit']})
  const lines = createInterface({input: child.stdout!})
  const waiting: Array<(v: number) => void> = []
  lines.on('line', (l) => waiting.shift()?.(Number(JSON.parse(l))))
  return {
    time: (file) =>
      new Promise<number>((resolve) => {
        waiting.push(resolve)
        child.stdin!.write(`${file}\n`)
      }),
    close: () => {
      child.stdin!.end()
    },
  }
}

// Peak RSS from /proc/self/status VmHWM (per process image; getrusage's ru_maxrss inherits the parent's peak
// across fork+exec, which hides the delta when the parent is large).
const NUMPY_RSS = `
import numpy as np, sys, json
def hwm():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1])
f = sys.argv[1]
before = hwm()
with np.load(f) as z:
    a = z['diffraction']
after = hwm()
print(json.dumps({'delta_kb': after - before, 'bytes': a.nbytes}))
`

const NUMPY_WRITE = `
import numpy as np, sys, time, json
src, out = sys.argv[1], sys.argv[2]
with np.load(src) as z:
    arrs = {k: z[k] for k in z.files}
res = {}
for name, fn in [('stored', np.savez), ('deflated', np.savez_compressed)]:
    ts = []
    for _ in range(3):
        t = time.perf_counter(); fn(out + '/np-' + name + '.npz', **arrs); ts.append(time.perf_counter() - t)
    res[name] = sorted(ts)[1]
print(json.dumps(res))
`

/** Peak RSS added by one listNpz+readNpz in a fresh node process (KiB). */
function oursRssDelta(file: string): number | undefined {
  const code = `
const {readFileSync} = await import('node:fs');
const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
const {listNpz, readNpz} = await import(${JSON.stringify(npzModule)});
const before = hwm();
await listNpz(${JSON.stringify(file)});
const a = await readNpz(${JSON.stringify(file)}, {members: ['diffraction']});
const after = hwm();
console.log(JSON.stringify({delta_kb: after - before, bytes: a.diffraction.data.byteLength}));`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {encoding: 'utf8'})
  if (r.status !== 0) return undefined
  return (JSON.parse(r.stdout) as {delta_kb: number}).delta_kb
}

export async function run(): Promise<void> {
  const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], {encoding: 'utf8'}).status === 0
  if (!hasNumpy) {
    console.log('npz: python3 with numpy not found; this benchmark needs numpy to write its input files (skipped)')
    return
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'study-bench-npz-'))
  try {
    if (py(MAKE, dir) === undefined) throw new Error('numpy could not write the benchmark files')
    const rows: string[] = []
    const worker = numpyWorker()
    for (const kind of ['stored', 'deflated']) {
      const file = path.join(dir, `${kind}.npz`)
      const fileMB = statSync(file).size / 1e6
      const ourRead = async () => {
        const t = performance.now()
        await listNpz(file)
        const a = await readNpz(file, {members: ['diffraction']})
        return {s: (performance.now() - t) / 1000, bytes: (a.diffraction!.data as Float32Array).byteLength}
      }
      // one warm-up each, then REPEATS alternating runs
      const {bytes} = await ourRead()
      await worker.time(file)
      const times: number[] = []
      const npTimes: number[] = []
      for (let k = 0; k < REPEATS; k++) {
        times.push((await ourRead()).s)
        npTimes.push(await worker.time(file))
      }
      const ours = median(times)
      const np = median(npTimes)
      const oursRss = oursRssDelta(file)
      const npRss = JSON.parse(py(NUMPY_RSS, file) ?? '{}') as {delta_kb?: number}
      const mb = bytes / 1e6
      rows.push(
        `${kind.padEnd(9)} file ${fileMB.toFixed(1)} MB, member ${mb.toFixed(1)} MB | ` +
          `ours ${(ours * 1000).toFixed(1)} ms = ${(mb / ours).toFixed(0)} MB/s, peak RSS +${oursRss === undefined ? '?' : (oursRss / 1024).toFixed(1)} MiB | ` +
          `numpy ${(np * 1000).toFixed(1)} ms = ${(mb / np).toFixed(0)} MB/s, peak RSS +${npRss.delta_kb === undefined ? '?' : (npRss.delta_kb / 1024).toFixed(1)} MiB | ` +
          `ours/numpy throughput ${(np / ours).toFixed(2)}x`,
      )
    }
    worker.close()
    console.log(`NPZ read: listNpz + readNpz('diffraction') vs np.load(f)['diffraction'], median of ${REPEATS} alternating runs`)
    for (const r of rows) console.log(`  ${r}`)

    // writing: ours vs numpy on the same arrays
    const arrays = await readNpz(path.join(dir, 'stored.npz'))
    const w: Record<string, number> = {}
    for (const [kind, compress] of [['stored', false], ['deflated', true]] as const) {
      const ts: number[] = []
      for (let k = 0; k < 3; k++) {
        const t = performance.now()
        await writeNpz(path.join(dir, `ours-${kind}.npz`), arrays, {compress})
        ts.push((performance.now() - t) / 1000)
      }
      w[kind] = median(ts)
    }
    const npw = JSON.parse(py(NUMPY_WRITE, path.join(dir, 'stored.npz'), dir) ?? '{}') as Record<string, number>
    console.log('NPZ write, median of 3 (same arrays): ' +
      ['stored', 'deflated'].map((k) => `${k} ours ${(w[k]! * 1000).toFixed(0)} ms vs numpy ${((npw[k] ?? Number.NaN) * 1000).toFixed(0)} ms (size ours ${(statSync(path.join(dir, `ours-${k}.npz`)).size / 1e6).toFixed(1)} MB, numpy ${(statSync(path.join(dir, `np-${k}.npz`)).size / 1e6).toFixed(1)} MB)`).join('; '))

    for (const kind of ['stored', 'deflated']) {
      const t = performance.now()
      const r = await validateNpzFile(path.join(dir, `${kind}.npz`))
      console.log(`study validate (${kind}, streamed, 4 MiB chunks): ${(performance.now() - t).toFixed(0)} ms, status ${r.status}`)
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run()
