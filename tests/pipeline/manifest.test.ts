import {execFileSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {gitState, toolVersion} from '../../src/pipeline/manifest.js'
import {tempDir} from './fixtures.js'

const hasGit = (() => {
  try {
    execFileSync('git', ['--version'], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
})()
if (!hasGit) console.warn('git not found: skipping the git state test')

describe('manifest provenance', () => {
  it.skipIf(!hasGit)('gitState: commit and dirty flag of a checkout; null outside one', async () => {
    const dir = tempDir('study-git-')
    expect(await gitState(dir)).toBeNull()
    const git = (...args: string[]) => execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args]).toString().trim()
    git('init', '-q')
    writeFileSync(path.join(dir, 'a.txt'), 'a')
    git('add', 'a.txt')
    git('commit', '-q', '-m', 'a')
    const head = git('rev-parse', 'HEAD')
    expect(await gitState(dir)).toEqual({commit: head, dirty: false})
    writeFileSync(path.join(dir, 'untracked.txt'), 'b')
    expect(await gitState(dir)).toEqual({commit: head, dirty: true})
  })

  it('toolVersion is the package version', async () => {
    const {default: pkg} = await import('../../package.json', {with: {type: 'json'}})
    expect(toolVersion()).toBe(pkg.version)
  })
})
