/**
 * `study train` as a real process (bin/run.js over dist/; `npm test` builds first).
 */
import {spawn, spawnSync} from 'node:child_process'
import {chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {describe, expect, it} from 'vitest'

import {EXIT} from '../../src/errors.js'
import {makeStudyTree, tempDir} from '../pipeline/fixtures.js'

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const bin = path.join(repo, 'bin', 'run.js')

function study(args: string[], opts: {cwd: string; env?: Record<string, string>}) {
  const r = spawnSync(process.execPath, [bin, 'train', ...args], {
    cwd: opts.cwd,
    env: {...process.env, ...opts.env},
    encoding: 'utf8',
    timeout: 120_000,
  })
  return {code: r.status, stdout: r.stdout, stderr: r.stderr}
}

const roots = ['--phase-c-root', 'phase_c', '--phase-d-root', 'phase_d', '--artifact-root', 'artifacts']
const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'))
const asNobody =
  process.getuid?.() === 0 && spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', '0']).status === 0
const nativeTensorflowInstalled = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'].some((p) => existsSync(path.join(repo, 'node_modules', p)))

describe('study train (CLI)', () => {
  const tree = makeStudyTree(tempDir('study-cli-'))

  it('--dry-run over the 9-job matrix: exit 0, manifest written, --json summary on stdout', () => {
    const r = study([...roots, '--dry-run', '--json'], {cwd: tree.base})
    expect(r.code, r.stderr).toBe(0)
    const summary = JSON.parse(r.stdout)
    expect(summary.dry_run).toBe(true)
    expect(summary.jobs).toHaveLength(9)
    expect(summary.jobs.every((j: {status: string}) => j.status === 'dry-run')).toBe(true)
    expect(summary.manifest_path).toBe(path.join(tree.artifacts, 'training_manifest.json'))
    const manifest = readJson(summary.manifest_path)
    expect(manifest.command_line).toEqual(['study', 'train', ...roots, '--dry-run', '--json'])
    expect(manifest.artifact_root).toBe('artifacts')
    expect(readFileSync(path.join(tree.artifacts, 'dose_1000/dense/gs2/train.log'), 'utf8')).toMatch(/^DRY RUN: dense dose=1000 gridsize=2\n/)
  }, 180_000)

  it('filters: 9 / 3 / 3 / 6 jobs and repeatable combinations', () => {
    const cases: [string[], number][] = [
      [[], 9],
      [['--dose', '1000'], 3],
      [['--dose', '1e3'], 3],
      [['--view', 'baseline'], 3],
      [['--gridsize', '2'], 6],
      [['--dose', '1000', '--dose', '100000', '--view', 'dense'], 2],
    ]
    for (const [filters, n] of cases) {
      const r = study([...roots, '--dry-run', '--json', ...filters], {cwd: tree.base})
      expect(r.code, r.stderr).toBe(0)
      expect(JSON.parse(r.stdout).jobs, filters.join(' ')).toHaveLength(n)
    }
  }, 180_000)

  it('no match: exit 5, the message names the filters and what exists, no manifest', () => {
    const t = makeStudyTree(tempDir('study-cli-'))
    const r = study([...roots, '--dry-run', '--view', 'dense', '--gridsize', '1'], {cwd: t.base})
    expect(r.code).toBe(EXIT.noMatch)
    expect(r.stderr).toContain('No jobs match the specified filters: --view dense --gridsize 1')
    expect(r.stderr).toContain('--view baseline, dense, sparse')
    expect(existsSync(path.join(t.artifacts, 'training_manifest.json'))).toBe(false)
  }, 180_000)

  it('no match on a root with only some doses: the hint lists the doses that have data, beside the design', () => {
    const t = makeStudyTree(tempDir('study-cli-'), {doses: [1000]})
    const r = study([...roots, '--dry-run', '--dose', '5000'], {cwd: t.base})
    expect(r.code).toBe(EXIT.noMatch)
    expect(r.stderr).toContain('--dose 1000 (with phase C data; the design lists 1000, 10000, 100000)')
  }, 180_000)

  it('a phase C root that does not exist is one error naming it (exit 3), before any job; a missing phase D root is a warning', () => {
    const t = makeStudyTree(tempDir('study-cli-'))
    for (const extra of [['--dry-run'], ['--runner', 'stub']]) {
      const r = study(['--phase-c-root', 'nowhere', '--phase-d-root', 'phase_d', '--artifact-root', 'artifacts', ...extra], {cwd: t.base})
      expect(r.code, r.stderr).toBe(EXIT.missingInput)
      expect(r.stderr).toContain(`phase C root (--phase-c-root) not found: ${path.join(t.base, 'nowhere')}`)
      expect(r.stderr).not.toMatch(/dataset not found|    at /)
      expect(existsSync(path.join(t.artifacts, 'training_manifest.json'))).toBe(false)
    }
    const d = study(['--phase-c-root', 'phase_c', '--phase-d-root', 'no_d', '--artifact-root', 'artifacts', '--dry-run', '--dose', '1000'], {cwd: t.base})
    expect(d.code, d.stderr).toBe(0)
    expect(d.stderr + d.stdout).toContain(`phase D root ${path.join(t.base, 'no_d')} does not exist: every overlap-view (gridsize 2) job is skipped`)
  }, 180_000)

  it('usage and contract errors: missing roots exit 2, a bad training option exit 4 naming the field', () => {
    const t = makeStudyTree(tempDir('study-cli-'))
    const missing = study(['--dry-run'], {cwd: t.base})
    expect(missing.code).toBe(EXIT.usage)
    expect(missing.stderr).toMatch(/missing --phase-c-root, --phase-d-root, --artifact-root/)
    const bad = study([...roots, '--dry-run', '--batch-size', '12'], {cwd: t.base})
    expect(bad.code).toBe(EXIT.contract)
    expect(bad.stderr).toMatch(/batch_size must be a positive power of 2/)
    const unknownRunner = study([...roots, '--runner', 'nope'], {cwd: t.base})
    expect(unknownRunner.code).toBe(2)
  }, 180_000)

  it('bad flag values are refused up front with exit 2 and nothing trained: unknown view or gridsize, empty --command, --example with roots, what tfjs cannot do', () => {
    const t = makeStudyTree(tempDir('study-cli-'))
    const cases: Array<[string[], RegExp]> = [
      [['--view', 'foo'], /--view foo: unknown view; expected one of baseline, dense, sparse/],
      [['--gridsize', '3'], /--gridsize 3: no view trains at that gridsize; expected one of 1, 2/],
      [['--command', ''], /--command needs a template/],
      [['--backend', 'pytorch', '--dose', '1000'], /--backend pytorch is not a TensorFlow\.js backend: the tfjs runner takes auto, tensorflow, wasm, cpu/],
      [['--gaussian-smoothing-sigma', '1', '--dose', '1000'], /--gaussian-smoothing-sigma 1: the tfjs runner supports only 0/],
      // a dry run shows only plans that can run
      [['--backend', 'pytorch', '--dry-run'], /--backend pytorch is not a TensorFlow\.js backend/],
      [['--gaussian-smoothing-sigma', '0.5', '--dry-run'], /--gaussian-smoothing-sigma 0\.5: the tfjs runner supports only 0/],
    ]
    if (!nativeTensorflowInstalled) {
      cases.push([['--backend', 'tensorflow', '--dose', '1000'], /--backend tensorflow: neither @tensorflow\/tfjs-node-gpu nor @tensorflow\/tfjs-node is installed\. To use it, install/])
    }
    for (const [args, message] of cases) {
      const r = study([...roots, ...args], {cwd: t.base})
      expect(r.code, args.join(' ')).toBe(EXIT.usage)
      expect(r.stderr).toMatch(message)
    }
    const example = study(['--example', '--phase-c-root', 'phase_c', '--runner', 'stub'], {cwd: t.base})
    expect(example.code).toBe(EXIT.usage)
    expect(example.stderr).toMatch(/--example makes its own phase C\/D data and cannot be combined with --phase-c-root/)
    // refused before --example generates its data (that takes a while)
    const exampleBackend = study(['--example', '--backend', 'pytorch'], {cwd: t.base})
    expect(exampleBackend.code).toBe(EXIT.usage)
    expect(exampleBackend.stderr).toMatch(/--backend pytorch is not a TensorFlow\.js backend/)
    // one error line, once (not one failure per job), and no example data made
    expect(exampleBackend.stderr.match(/error:/g)).toHaveLength(1)
    // nothing was planned or trained
    expect(existsSync(path.join(t.artifacts, 'training_manifest.json'))).toBe(false)
    expect(existsSync(path.join(t.base, 'study-out'))).toBe(false)
  }, 180_000)

  it('a gridsize-2 job asking for more groups than its file has positions (OVERSAMPLING-001): the dry run warns, a real run fails it before any training', () => {
    const t = makeStudyTree(tempDir('study-cli-'))
    const fix = '--n-groups 5 \\(or fewer\\) or --enable-oversampling'
    const problem = (view: string) => `n_groups=512 exceeds the 5 scan positions of \\S*phase_d/dose_1000/${view}/${view}_train\\.npz at gridsize 2 \\(OVERSAMPLING-001\\): pass ${fix}`
    const warned = study([...roots, '--dry-run', '--runner', 'tfjs', '--dose', '1000'], {cwd: t.base})
    expect(warned.code, warned.stderr).toBe(0)
    for (const view of ['dense', 'sparse']) {
      expect(warned.stderr).toMatch(new RegExp(`warning: dose_1000/${view}/gs2: ${problem(view)}; this job will fail before any training`))
      expect(warned.stdout).toMatch(new RegExp(`\\[dry run\\] ${view} dose=1e\\+03 gridsize=2: would fail: ${problem(view)}`))
    }
    expect(warned.stdout).toMatch(/\[dry run\] baseline dose=1e\+03 gridsize=1: would run/)
    expect(warned.stderr).not.toMatch(/baseline\/gs1: n_groups/)
    for (const ok of [['--n-groups', '5'], ['--enable-oversampling']]) {
      const r = study([...roots, '--dry-run', '--runner', 'tfjs', '--dose', '1000', ...ok], {cwd: t.base})
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr + r.stdout, ok.join(' ')).not.toContain('exceeds the')
    }

    // a real run: both jobs fail at once with the fix in the message; nothing trains, no job folder is touched
    const fresh = makeStudyTree(tempDir('study-cli-'))
    const started = Date.now()
    const r = study([...roots, '--runner', 'tfjs', '--dose', '1000', '--gridsize', '2', '--jobs', '2', '--json'], {cwd: fresh.base})
    expect(r.code, r.stderr).toBe(EXIT.failed)
    expect(Date.now() - started).toBeLessThan(20_000)
    expect(r.stderr).not.toContain('→ Training')
    const summary = JSON.parse(r.stdout)
    expect(summary.jobs.map((j: {key: string; status: string}) => [j.key, j.status])).toEqual([
      ['dose_1000/dense/gs2', 'failed'],
      ['dose_1000/sparse/gs2', 'failed'],
    ])
    for (const j of summary.jobs) expect(j.error).toMatch(new RegExp(`^${problem(j.view)}$`))
    expect(existsSync(path.join(fresh.artifacts, 'dose_1000/dense/gs2/train.log'))).toBe(false)
  }, 180_000)

  it('an artifact root that cannot be written (a file in its way): exit 73 naming it, no stack trace, the file untouched', () => {
    const t = makeStudyTree(tempDir('study-cli-'))
    writeFileSync(path.join(t.base, 'afile'), 'keep me\n')
    for (const root of ['afile', 'afile/sub']) {
      const r = study(['--phase-c-root', 'phase_c', '--phase-d-root', 'phase_d', '--artifact-root', root, '--runner', 'stub', '--dose', '1000'], {cwd: t.base})
      expect(r.code, r.stderr).toBe(73)
      expect(r.stderr).toContain(`cannot write ${path.join(t.base, root)}: a file is in the way of a folder on that path`)
      expect(r.stderr).not.toMatch(/\n\s+at /)
    }
    expect(readFileSync(path.join(t.base, 'afile'), 'utf8')).toBe('keep me\n')
  }, 180_000)

  // a permission problem needs a user that permissions apply to: as root, run the CLI as 'nobody' through runuser
  it.skipIf(!asNobody)('an artifact root this user may not write (read-only, holding a manifest): exit 73 naming it, the manifest kept, a read-only parent too', () => {
    const t = makeStudyTree(tempDir('study-cli-'))
    chmodSync(t.base, 0o755)
    const args = ['--phase-c-root', 'phase_c', '--phase-d-root', 'phase_d', '--runner', 'stub', '--dose', '1000']
    const first = study([...args, '--artifact-root', 'artifacts'], {cwd: t.base})
    expect(first.code, first.stderr).toBe(0)
    const manifest = path.join(t.artifacts, 'training_manifest.json')
    const before = readFileSync(manifest, 'utf8')
    chmodSync(t.artifacts, 0o555)
    mkdirSync(path.join(t.base, 'ro'), {mode: 0o555})
    const nobody = (extra: string[]) =>
      spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, bin, 'train', ...args, ...extra], {cwd: t.base, encoding: 'utf8', timeout: 120_000})
    for (const [root, at] of [['artifacts', 'artifacts'], ['ro/art', 'ro/art']]) {
      for (const extra of [[], ['--force'], ['--dry-run']]) {
        const r = nobody(['--artifact-root', root, ...extra])
        expect(r.status, `${root} ${extra.join(' ')}: ${r.stderr}`).toBe(73)
        expect(r.stderr).toContain(`cannot write ${path.join(t.base, at)}: permission denied [EACCES]`)
        expect(r.stderr).not.toMatch(/\n\s+at /)
      }
    }
    expect(readFileSync(manifest, 'utf8')).toBe(before)
    expect(readdirSync(path.join(t.base, 'ro'))).toEqual([])
  }, 180_000)

  it('stub runner, one job failing: exit 1, the others run, manifest records the error, bundle lines on stdout', () => {
    const t = makeStudyTree(tempDir('study-cli-'))
    const r = study([...roots, '--runner', 'stub', '--nepochs', '3'], {cwd: t.base, env: {STUDY_STUB_FAIL: 'sparse@10000'}})
    expect(r.code, r.stderr).toBe(EXIT.failed)
    expect(r.stderr).toMatch(/1 of 9 jobs failed: dose_10000\/sparse\/gs2 \(stub failure requested/)
    const manifest = readJson(path.join(t.artifacts, 'training_manifest.json'))
    expect(manifest.summary).toMatchObject({selected: 9, succeeded: 8, failed: 1})
    expect(manifest.jobs.find((j: {status: string}) => j.status === 'failed')).toMatchObject({view: 'sparse', dose: 10000})
    expect(r.stdout.match(/→ Bundle \[/g)).toHaveLength(8)
    expect(r.stdout).toContain('    → Bundle [baseline/dose=1e+03]: wts.h5.zip')
    for (const j of manifest.jobs.filter((x: {status: string}) => x.status === 'success')) {
      expect(r.stdout).toContain(`    → SHA256 [${j.view}/dose=${j.dose === 1000 ? '1e+03' : j.dose === 10000 ? '1e+04' : '1e+05'}]: ${j.result.bundle_sha256}`)
    }
    // the rerun trains only the failed job
    const again = study([...roots, '--runner', 'stub', '--nepochs', '3', '--json'], {cwd: t.base})
    expect(again.code, again.stderr).toBe(0)
    const s = JSON.parse(again.stdout)
    expect(s.summary).toMatchObject({succeeded: 1, complete: 8, failed: 0})
  }, 180_000)

  it('--jobs 2 gives the same manifest as a sequential run (apart from times)', () => {
    const strip = (m: {jobs: Record<string, unknown>[]}) =>
      m.jobs.map(({started_at: _s, finished_at: _f, duration_s: _d, ...rest}) => rest)
    const seq = makeStudyTree(tempDir('study-cli-'))
    // the same input bytes for both runs (numpy stamps zip members with the time they were written)
    const parBase = tempDir('study-cli-')
    cpSync(seq.base, parBase, {recursive: true})
    const moved = (p: string) => path.join(parBase, path.relative(seq.base, p))
    const par = {base: parBase, phaseC: moved(seq.phaseC), phaseD: moved(seq.phaseD), artifacts: moved(seq.artifacts)}
    const a = study([...roots, '--runner', 'stub', '--nepochs', '2', '--jobs', '1'], {cwd: seq.base, env: {STUDY_STUB_FAIL: 'dense@1000', STUDY_STUB_DELAY_MS: '50'}})
    const b = study([...roots, '--runner', 'stub', '--nepochs', '2', '--jobs', '2'], {cwd: par.base, env: {STUDY_STUB_FAIL: 'dense@1000', STUDY_STUB_DELAY_MS: '50'}})
    expect(a.code).toBe(1)
    expect(b.code).toBe(1)
    const ma = readJson(path.join(seq.artifacts, 'training_manifest.json'))
    const mb = readJson(path.join(par.artifacts, 'training_manifest.json'))
    expect(mb.parallel_jobs).toBe(2)
    expect(strip(mb)).toEqual(strip(ma))
    // stdout lines in the same (plan) order
    const lines = (s: string) => s.split('\n').filter((l) => l.includes('→') || l.startsWith('✓') || l.startsWith('✗')).map((l) => l.replace(/\(\d+\.\d s\)/, ''))
    expect(lines(b.stdout)).toEqual(lines(a.stdout))
  }, 180_000)

  it('--jobs 2: a worker process that dies mid-job fails that job only; the study goes on', () => {
    const t = makeStudyTree(tempDir('study-cli-'))
    const r = study([...roots, '--runner', 'stub', '--nepochs', '1', '--jobs', '2'], {cwd: t.base, env: {STUDY_STUB_CRASH: 'dense@10000'}})
    expect(r.code).toBe(EXIT.failed)
    const m = readJson(path.join(t.artifacts, 'training_manifest.json'))
    expect(m.summary).toMatchObject({succeeded: 8, failed: 1})
    const failed = m.jobs.find((j: {status: string}) => j.status === 'failed')
    expect(failed).toMatchObject({view: 'dense', dose: 10000, error: 'worker process ended (exit code 17) while running the job'})
    expect(readFileSync(path.join(t.artifacts, failed.log_path), 'utf8')).toMatch(/Job failed: worker process ended/)
  }, 180_000)

  it('command runner from the CLI: template with placeholders, legacy params beside each job', () => {
    const t = makeStudyTree(tempDir('study-cli-'))
    const script = path.join(t.base, 'trainer.mjs')
    writeFileSync(
      script,
      `import {readFileSync, writeFileSync} from 'node:fs'
const [params, out] = process.argv.slice(2)
const p = JSON.parse(readFileSync(params, 'utf8'))
writeFileSync(out + '/wts.h5.zip', 'N=' + p.N + ' gridsize=' + p.gridsize + ' nphotons=' + p.nphotons)
console.log('trained', p.gridsize)
`,
    )
    const cmd = `${JSON.stringify(process.execPath)} trainer.mjs {params_json} {artifact_dir}`
    const r = study([...roots, '--command', cmd, '--dose', '1000', '--json'], {cwd: t.base})
    expect(r.code, r.stderr).toBe(0)
    const s = JSON.parse(r.stdout)
    expect(s.runner).toBe('command')
    expect(s.jobs).toHaveLength(3)
    expect(readFileSync(path.join(t.artifacts, 'dose_1000/dense/gs2/wts.h5.zip'), 'utf8')).toBe('N=64 gridsize=2 nphotons=1000')
    expect(readJson(path.join(t.artifacts, 'dose_1000/baseline/gs1/params.json'))['object.big']).toBe(true)
    expect(readFileSync(path.join(t.artifacts, 'dose_1000/dense/gs2/train.log'), 'utf8')).toMatch(/trained 2/)
  }, 180_000)

  it('paths with spaces and unicode, relative to the working directory', () => {
    const base = tempDir('study-cli-')
    const t = makeStudyTree(path.join(base, 'données d’essai'), {doses: [1000, 10000, 100000]})
    const r = study(
      ['--phase-c-root', 'données d’essai/phase_c', '--phase-d-root', './données d’essai/phase_d', '--artifact-root', 'résultats phase e', '--runner', 'stub', '--nepochs', '1', '--view', 'dense'],
      {cwd: base},
    )
    expect(r.code, r.stderr).toBe(0)
    const out = path.join(base, 'résultats phase e')
    const manifest = readJson(path.join(out, 'training_manifest.json'))
    expect(manifest.jobs).toHaveLength(3)
    for (const j of manifest.jobs) {
      expect(j.train_data_path).toBe(`../données d’essai/phase_d/dose_${j.dose}/dense/dense_train.npz`)
      expect(existsSync(path.join(out, j.artifact_dir, 'wts.h5.zip'))).toBe(true)
    }
    expect(t.base).toContain('données')
  }, 180_000)

  it('--help of every command: no "[default: null]" noise, and description paragraphs are not broken mid-sentence', () => {
    for (const command of ['train', 'generate', 'overlap', 'reconstruct', 'validate']) {
      const r = spawnSync(process.execPath, [bin, command, '--help'], {encoding: 'utf8', env: {...process.env, OCLIF_COLUMNS: '1000'}})
      expect(r.status, r.stderr).toBe(0)
      expect(r.stdout, command).not.toContain('null')
      const description = r.stdout.split('DESCRIPTION\n')[1]?.split('\nEXAMPLES')[0] ?? ''
      // with a wide terminal each paragraph is one line: a line that ends without a full stop was hard-wrapped
      // (the first line is the one-line summary)
      for (const line of description.split('\n').filter((l) => l.trim() !== '').slice(1)) expect(line.trim(), command).toMatch(/[.:)]$/)
      if (command === 'train') {
        expect(r.stdout).toMatch(/--n-groups=<int> +number of groups to train on \(default 512\) \(TrainingConfig\.n_groups\)/)
        expect(r.stdout).toMatch(/--amp-activation=<option> +activation of the amplitude head \[default: sigmoid\]/)
        expect(description).toContain('(per dose: baseline at gridsize 1 from phase C; dense and sparse at gridsize 2 from phase D)')
      }
    }
  }, 180_000)

  it('a dry run never imports TensorFlow.js (or the tfjs runner)', () => {
    const t = makeStudyTree(tempDir('study-cli-'))
    const hooks = path.join(t.base, 'hooks.mjs')
    const register = path.join(t.base, 'register.mjs')
    mkdirSync(t.base, {recursive: true})
    writeFileSync(
      hooks,
      `export async function resolve(specifier, context, next) {
  if (/@tensorflow|tfjs-runner/.test(specifier)) throw new Error('tfjs imported during a dry run: ' + specifier)
  return next(specifier, context)
}
`,
    )
    writeFileSync(register, `import {register} from 'node:module'\nregister(${JSON.stringify(new URL(`file://${hooks}`).href)})\n`)
    const r = study([...roots, '--dry-run', '--runner', 'tfjs'], {cwd: t.base, env: {NODE_OPTIONS: `--import ${register}`}})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).not.toMatch(/tfjs imported/)
  }, 180_000)

  it('Ctrl-C: the running jobs stop, the manifest records finished and interrupted jobs, exit 130; a rerun continues', async () => {
    for (const jobs of ['1', '2']) {
      const t = makeStudyTree(tempDir('study-cli-'))
      const child = spawn(process.execPath, [bin, 'train', ...roots, '--runner', 'stub', '--nepochs', '1', '--jobs', jobs], {
        cwd: t.base,
        env: {...process.env, STUDY_STUB_DELAY_MS: '400'},
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stderr = ''
      let stdout = ''
      child.stderr.on('data', (d) => (stderr += d))
      child.stdout.on('data', (d) => (stdout += d))
      // interrupt once the first job has finished
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          if (existsSync(path.join(t.artifacts, 'dose_1000/baseline/gs1/job_record.json'))) {
            clearInterval(timer)
            child.kill('SIGINT')
            resolve()
          }
        }, 50)
      })
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
      expect(code, stderr).toBe(130)
      expect(stderr).toMatch(/SIGINT: stopping the running job/)
      const m = readJson(path.join(t.artifacts, 'training_manifest.json'))
      expect(m.summary.succeeded).toBeGreaterThanOrEqual(1)
      expect(m.summary.interrupted).toBeGreaterThanOrEqual(1)
      expect(m.summary.succeeded + m.summary.interrupted).toBe(9)
      // the jobs that never began are told apart from the one that was stopped while running
      const notStarted = m.jobs.filter((j: {error: string | null}) => j.error === 'interrupted before the job started')
      expect(notStarted.length).toBeGreaterThanOrEqual(1)
      expect(notStarted.length).toBeLessThan(m.summary.interrupted + 1)
      expect(stdout.match(/: not started \(interrupted before it began\)/g), stdout).toHaveLength(notStarted.length)
      expect(stdout).toContain(`${m.summary.interrupted} interrupted (${notStarted.length} of them not started)`)
      const again = study([...roots, '--runner', 'stub', '--nepochs', '1', '--json'], {cwd: t.base})
      expect(again.code, again.stderr).toBe(0)
      const s = JSON.parse(again.stdout).summary
      expect(s.complete).toBe(m.summary.succeeded)
      expect(s.succeeded).toBe(m.summary.interrupted)
    }
  }, 180_000)
})
