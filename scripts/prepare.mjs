#!/usr/bin/env node
// npm `prepare`: build dist/ and the oclif manifest, but only when they are missing or older than a source file.
// npm runs `prepare` after `npm ci`, and npx runs it again when it first installs this folder as a package;
// a fresh build then would delete dist/ under any `study` process already running from this checkout.
import {execSync} from 'node:child_process'
import {existsSync, readdirSync, statSync} from 'node:fs'
import path from 'node:path'

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..')
const stamp = path.join(root, 'oclif.manifest.json')

function newestMtime(dir) {
  let newest = 0
  for (const entry of readdirSync(dir, {withFileTypes: true})) {
    const p = path.join(dir, entry.name)
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p))
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs)
  }
  return newest
}

const sources = ['src', 'studies', 'bench'].map((d) => path.join(root, d)).filter((d) => existsSync(d))
const inputs = Math.max(...sources.map(newestMtime), statSync(path.join(root, 'package.json')).mtimeMs, statSync(path.join(root, 'tsconfig.json')).mtimeMs)
const fresh = existsSync(stamp) && existsSync(path.join(root, 'dist')) && statSync(stamp).mtimeMs >= inputs
if (fresh) {
  console.error('study: dist/ is up to date; skipping the build')
} else {
  execSync('npm run build', {cwd: root, stdio: 'inherit'})
}
