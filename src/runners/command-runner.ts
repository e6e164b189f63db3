/**
 * The command runner: runs an external trainer (e.g. the Python PtychoPINN trainer) once per job.
 *
 * Protocol, per job:
 * 1. `params.json` (the legacy dict, after the bridge) and `training_config.json` (the TrainingConfig) are
 *    written atomically into the job's artifact folder.
 * 2. The command template is split into argv words (shell-like quoting: '...', "...", \x), the
 *    placeholders are substituted in each word, and the program is spawned WITHOUT a shell (no injection
 *    through paths with spaces or quotes). With `shell: true` the template runs under /bin/sh -c and every
 *    substituted value is single-quoted.
 * 3. stdout and stderr are appended to the job's log. Exit status 0 = success; anything else, a signal, a
 *    missing program or the timeout = failure with that reason.
 * 4. On success the runner reads `runner_result.json` from the artifact folder if the command wrote one
 *    (final_loss, epochs_completed, history, bundle_path, ...), and records the bundle (default
 *    `wts.h5.zip`) with its sha256 and size when it exists.
 */
import {spawn} from 'node:child_process'
import {createWriteStream, existsSync} from 'node:fs'
import {appendFile, readFile, rm, stat} from 'node:fs/promises'
import path from 'node:path'

import {UsageError} from '../errors.js'
import {writeJsonAtomic} from '../io/atomic.js'
import {digestFile} from '../io/hash.js'
import {toPosix} from '../io/paths.js'
import type {Runner, RunnerContext, RunnerResult} from './types.js'

export interface CommandRunnerOptions {
  /** the command template, e.g. `python -m trainer --train {train} --out {artifact_dir}` */
  command: string
  /** run under /bin/sh -c (values single-quoted); default false: spawn argv directly */
  shell?: boolean
  /** seconds; 0 or undefined = no limit */
  timeoutS?: number
  /** extra environment variables */
  env?: Record<string, string>
  /** working directory of the command (`study train` passes the folder it was started in); default: the job's artifact folder */
  cwd?: string
}

export const PARAMS_FILE = 'params.json'
export const CONFIG_FILE = 'training_config.json'
export const RESULT_FILE = 'runner_result.json'
export const DEFAULT_BUNDLE = 'wts.h5.zip'

export const PLACEHOLDERS: Record<string, string> = {
  train: 'absolute path of the training NPZ',
  test: 'absolute path of the test NPZ',
  artifact_dir: "absolute path of the job's artifact folder",
  log: "absolute path of the job's log",
  params_json: 'absolute path of params.json (the legacy parameter dict)',
  config_json: 'absolute path of training_config.json (the TrainingConfig)',
  result_json: 'absolute path where the command may write runner_result.json',
  dose: 'photons per exposure, e.g. 1000',
  view: 'view name, e.g. dense',
  gridsize: 'gridsize, e.g. 2',
  backend: 'the requested compute backend (--backend)',
  framework: "TrainingConfig.backend: 'tensorflow' or 'pytorch'",
  seed: "the job's seed",
  N: 'patch size inferred from the training NPZ',
  nepochs: 'TrainingConfig.nepochs',
  batch_size: 'TrainingConfig.batch_size',
  n_groups: 'TrainingConfig.n_groups',
}

/** Split a template into words: whitespace separates, '...' is literal, "..." allows \" and \\, \x escapes x. */
export function splitTemplate(template: string): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  let i = 0
  while (i < template.length) {
    const c = template[i]
    if (/\s/.test(c)) {
      if (inWord) words.push(word)
      word = ''
      inWord = false
      i++
      continue
    }
    inWord = true
    if (c === "'") {
      const end = template.indexOf("'", i + 1)
      if (end < 0) throw new UsageError(`command template: unterminated ' quote: ${template}`)
      word += template.slice(i + 1, end)
      i = end + 1
    } else if (c === '"') {
      i++
      while (i < template.length && template[i] !== '"') {
        if (template[i] === '\\' && (template[i + 1] === '"' || template[i + 1] === '\\')) i++
        word += template[i]
        i++
      }
      if (i >= template.length) throw new UsageError(`command template: unterminated " quote: ${template}`)
      i++
    } else if (c === '\\' && i + 1 < template.length) {
      word += template[i + 1]
      i += 2
    } else {
      word += c
      i++
    }
  }
  if (inWord) words.push(word)
  return words
}

/** Placeholders used in a template; throws a UsageError naming unknown ones. `{{` and `}}` are literal braces. */
export function templatePlaceholders(template: string): string[] {
  const names = [...template.replaceAll('{{', '').replaceAll('}}', '').matchAll(/\{([^{}]*)\}/g)].map((m) => m[1])
  const unknown = names.filter((n) => !(n in PLACEHOLDERS))
  if (unknown.length > 0) {
    throw new UsageError(
      `command template: unknown placeholder(s) ${unknown.map((n) => `{${n}}`).join(', ')}; known: ${Object.keys(PLACEHOLDERS)
        .map((n) => `{${n}}`)
        .join(' ')}`,
    )
  }
  return names
}

export function substitute(word: string, values: Record<string, string>, quote: (v: string) => string = (v) => v): string {
  return word.replace(/\{\{|\}\}|\{([^{}]*)\}/g, (m, name: string | undefined) => {
    if (m === '{{') return '{'
    if (m === '}}') return '}'
    return quote(values[name as string])
  })
}

export function shellQuote(v: string): string {
  return `'${v.replaceAll("'", `'\\''`)}'`
}

function placeholderValues(ctx: RunnerContext): Record<string, string> {
  const {job, config} = ctx
  return {
    train: job.trainDataPath,
    test: job.testDataPath,
    artifact_dir: job.artifactDir,
    log: ctx.logPath,
    params_json: path.join(job.artifactDir, PARAMS_FILE),
    config_json: path.join(job.artifactDir, CONFIG_FILE),
    result_json: path.join(job.artifactDir, RESULT_FILE),
    dose: String(job.dose),
    view: job.view,
    gridsize: String(job.gridsize),
    backend: ctx.backend,
    framework: config.backend,
    seed: String(ctx.seed),
    N: String(config.model.N),
    nepochs: String(config.nepochs),
    batch_size: String(config.batch_size),
    n_groups: String(config.n_groups),
  }
}

/** The argv (or shell line) a job will run. */
export function commandFor(options: CommandRunnerOptions, ctx: RunnerContext): {file: string; args: string[]} {
  const values = placeholderValues(ctx)
  if (options.shell) return {file: '/bin/sh', args: ['-c', substitute(options.command, values, shellQuote)]}
  const argv = splitTemplate(options.command).map((w) => substitute(w, values))
  return {file: argv[0], args: argv.slice(1)}
}

interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  timedOut: boolean
  spawnError?: Error
}

function runProcess(file: string, args: string[], ctx: RunnerContext, options: CommandRunnerOptions): Promise<Exit> {
  return new Promise((resolve) => {
    const log = createWriteStream(ctx.logPath, {flags: 'a'})
    let settled = false
    let timedOut = false
    const finish = (exit: Exit) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      log.end(() => resolve(exit))
    }
    const child = spawn(file, args, {
      cwd: options.cwd ?? ctx.job.artifactDir,
      env: {...process.env, ...options.env},
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
    })
    const kill = (signal: NodeJS.Signals) => {
      try {
        // the whole process group: a shell's children die too
        if (child.pid !== undefined && process.platform !== 'win32') process.kill(-child.pid, signal)
        else child.kill(signal)
      } catch {
        // already gone
      }
    }
    child.stdout.pipe(log, {end: false})
    child.stderr.pipe(log, {end: false})
    const timeoutMs = (options.timeoutS ?? 0) * 1000
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true
            kill('SIGTERM')
            setTimeout(() => kill('SIGKILL'), 5000).unref()
          }, timeoutMs)
        : undefined
    ctx.signal?.addEventListener('abort', () => kill('SIGTERM'))
    child.on('error', (error) => finish({code: null, signal: null, timedOut, spawnError: error}))
    child.on('close', (code, signal) => finish({code, signal, timedOut}))
  })
}

async function readRunnerResult(file: string): Promise<Record<string, unknown>> {
  if (!existsSync(file)) return {}
  try {
    const value = JSON.parse(await readFile(file, 'utf8')) as unknown
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
  } catch (error) {
    return {runner_result_error: `${RESULT_FILE} is not valid JSON: ${(error as Error).message}`}
  }
}

export function createCommandRunner(options: CommandRunnerOptions): Runner {
  if (!options.command || options.command.trim() === '') {
    throw new UsageError('the command runner needs a command template (--command "...")')
  }
  templatePlaceholders(options.command)
  if (!options.shell && splitTemplate(options.command).length === 0) throw new UsageError('the command template is empty')

  return async (ctx: RunnerContext): Promise<RunnerResult> => {
    const {job} = ctx
    await writeJsonAtomic(path.join(job.artifactDir, PARAMS_FILE), ctx.legacyParams)
    await writeJsonAtomic(path.join(job.artifactDir, CONFIG_FILE), ctx.config)
    // a result left by an earlier run must never be read as this run's
    await rm(path.join(job.artifactDir, RESULT_FILE), {force: true})
    const {file, args} = commandFor(options, ctx)
    await appendFile(ctx.logPath, `$ ${[file, ...args].map((a) => (/[\s'"]/.test(a) ? shellQuote(a) : a)).join(' ')}\n`)
    const started = Date.now()
    // file times have coarse resolution on some filesystems: allow a little slack before the start
    const startedForFiles = started - 2000
    const exit = await runProcess(file, args, ctx, options)
    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    let error: string | undefined
    if (exit.spawnError) {
      const code = (exit.spawnError as NodeJS.ErrnoException).code
      error = code === 'ENOENT' ? `command not found: ${file}` : `could not start ${file}: ${exit.spawnError.message}`
    } else if (exit.timedOut) error = `command timed out after ${options.timeoutS} s and was stopped`
    else if (exit.signal) error = `command killed by signal ${exit.signal}`
    else if (exit.code !== 0) error = `command exited with status ${exit.code}`
    if (error) {
      await appendFile(ctx.logPath, `Command failed after ${seconds} s: ${error}\n`)
      return {status: 'failed', error, exit_code: exit.code ?? null}
    }
    await appendFile(ctx.logPath, `Command finished after ${seconds} s\n`)
    const extra = await readRunnerResult(path.join(job.artifactDir, RESULT_FILE))
    const bundleRel = typeof extra.bundle_path === 'string' ? extra.bundle_path : DEFAULT_BUNDLE
    const bundleAbs = path.resolve(job.artifactDir, bundleRel)
    const result: RunnerResult = {...extra, status: 'success', exit_code: 0}
    const warnings: string[] = []
    if (!existsSync(path.join(job.artifactDir, RESULT_FILE))) warnings.push(`the command wrote no ${RESULT_FILE}: no loss or history recorded`)
    const bundleStat = existsSync(bundleAbs) ? await stat(bundleAbs) : undefined
    if (bundleStat && bundleStat.mtimeMs >= startedForFiles) {
      const digest = await digestFile(bundleAbs)
      result.bundle_path = toPosix(path.relative(job.artifactDir, bundleAbs))
      result.bundle_sha256 = digest.sha256
      result.bundle_size_bytes = digest.size_bytes
    } else {
      delete result.bundle_path
      warnings.push(
        bundleStat
          ? `${bundleRel} predates this run (an earlier run's bundle): not recorded as this run's`
          : `no bundle written (${bundleRel} not found)`,
      )
    }
    if (warnings.length > 0) {
      result.warnings = warnings
      await appendFile(ctx.logPath, warnings.map((w) => `Warning: ${w}\n`).join(''))
    }
    return result
  }
}
