/**
 * Runners by name. Each entry loads its module lazily, so a dry run (which needs no runner) and the stub or
 * command runners never import TensorFlow.js.
 */
import {StudyError, UsageError} from '../errors.js'
import type {CommandRunnerOptions} from './command-runner.js'
import type {StubRunnerOptions} from './stub-runner.js'
import type {Runner} from './types.js'

/** What a runner may be configured with (serialisable: it crosses into job worker processes). */
export interface RunnerOptions {
  /** command runner: template, shell mode, timeout */
  command?: CommandRunnerOptions
  /** stub runner: failure/slowness knobs (the CLI fills these from STUDY_STUB_* variables) */
  stub?: Omit<StubRunnerOptions, 'calls'>
  /** any runner: a time limit per job in seconds */
  timeoutS?: number
}

export type RunnerFactory = (options: RunnerOptions) => Promise<Runner>

export const RUNNER_NAMES = ['tfjs', 'stub', 'command'] as const
export type RunnerName = (typeof RUNNER_NAMES)[number]

/** The runner `study train` uses when --runner is not given: the one place to change it. */
export const DEFAULT_RUNNER: RunnerName = 'tfjs'

/** Runners that use one core per process, so `--jobs` defaults to one job per core. */
export const CORE_BOUND_RUNNERS: ReadonlySet<string> = new Set(['tfjs'])

export class RunnerUnavailableError extends StudyError {
  override readonly exitCode = 70
}

// a variable specifier: the TF.js runner is another module's work and may not exist in this build
const TFJS_RUNNER_MODULE = './tfjs-runner.js'

interface TfjsModule {
  runner?: Runner
  createRunner?: (options: RunnerOptions) => Runner | Promise<Runner>
}

const FACTORIES: Record<RunnerName, RunnerFactory> = {
  async stub(options) {
    const {createStubRunner, stubOptionsFromEnv} = await import('./stub-runner.js')
    return createStubRunner(options.stub ?? stubOptionsFromEnv())
  },
  async command(options) {
    const {createCommandRunner} = await import('./command-runner.js')
    if (!options.command) throw new UsageError('the command runner needs a command template (--command "...")')
    return createCommandRunner({timeoutS: options.timeoutS, ...options.command})
  },
  async tfjs(options) {
    let mod: TfjsModule
    try {
      mod = (await import(TFJS_RUNNER_MODULE)) as TfjsModule
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      // only when the runner module itself is absent (not when one of its own imports is missing)
      if (code === 'ERR_MODULE_NOT_FOUND' && /Cannot find module '[^']*tfjs-runner\.js'/.test(String((error as Error).message))) {
        throw new RunnerUnavailableError(
          'tfjs runner not available in this build (src/runners/tfjs-runner.ts is missing); use --runner stub or --runner command',
          {cause: error},
        )
      }
      throw error
    }
    if (mod.createRunner) return mod.createRunner(options)
    if (mod.runner) return mod.runner
    throw new RunnerUnavailableError('tfjs runner module exports neither `runner` nor `createRunner`')
  },
}

export function isRunnerName(name: string): name is RunnerName {
  return (RUNNER_NAMES as readonly string[]).includes(name)
}

/** Load a runner by name; an unknown name is a usage error listing the known ones. */
export async function loadRunner(name: string, options: RunnerOptions = {}): Promise<Runner> {
  if (!isRunnerName(name)) throw new UsageError(`unknown runner '${name}'; expected one of: ${RUNNER_NAMES.join(', ')}`)
  return FACTORIES[name](options)
}
