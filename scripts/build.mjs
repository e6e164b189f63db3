#!/usr/bin/env node
// npm run build: compile into a fresh temporary folder, then swap it in for dist/ with two renames, and write the
// oclif manifest. A `study` process running from this checkout never finds dist/ missing or half-built (a plain
// `rm -rf dist && tsc` left it without its modules for the whole compile, and a lazily imported module then failed).
import {execFileSync} from 'node:child_process'
import {existsSync, renameSync, rmSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const dist = path.join(root, 'dist')
const fresh = path.join(root, `.dist-build-${process.pid}`)
const old = path.join(root, `.dist-old-${process.pid}`)
const bin = (name) => path.join(root, 'node_modules', '.bin', name)

rmSync(fresh, {recursive: true, force: true})
try {
  execFileSync(bin('tsc'), ['-p', 'tsconfig.json', '--outDir', fresh], {cwd: root, stdio: 'inherit'})
} catch (error) {
  rmSync(fresh, {recursive: true, force: true})
  console.error('build failed: dist/ left as it was')
  process.exit(typeof error.status === 'number' ? error.status : 1)
}
if (existsSync(dist)) renameSync(dist, old)
renameSync(fresh, dist)
rmSync(old, {recursive: true, force: true})
execFileSync(bin('oclif'), ['manifest'], {cwd: root, stdio: 'inherit'})
