/**
 * `npm run bench`: runs every benchmark module in this folder (each exports `run()`), one after the other,
 * and prints their figures. Pass names to run a subset: `npm run bench -- simulation npz`.
 */
import {readdirSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const wanted = new Set(process.argv.slice(2))
const modules = readdirSync(here)
  .filter((f) => f.endsWith('.js') && f !== 'index.js')
  .map((f) => f.slice(0, -3))
  .filter((name) => wanted.size === 0 || wanted.has(name))
  .sort()

const cpus = (await import('node:os')).cpus()
console.log(`study benchmarks — node ${process.version}, ${cpus.length} x ${cpus[0]?.model ?? 'cpu'}`)
let failed = 0
for (const name of modules) {
  console.log(`\n=== ${name} ===`)
  try {
    const mod = (await import(pathToFileURL(path.join(here, `${name}.js`)).href)) as {run?: () => Promise<void>}
    if (typeof mod.run !== 'function') {
      console.log(`(no run() exported; skipped)`)
      continue
    }
    await mod.run()
  } catch (error) {
    failed++
    console.log(`benchmark ${name} failed: ${(error as Error).stack ?? error}`)
  }
}
if (failed > 0) process.exitCode = 1
