/**
 * Typed errors a user can meet. Library code throws these; only the command entry layer
 * (src/commands/base-command.ts) turns them into exit codes.
 */
import type {ZodError} from 'zod'
import {z} from 'zod'

export const EXIT = {
  ok: 0,
  /** at least one job failed, or at least one file failed validation */
  failed: 1,
  /** bad flags or arguments (oclif also uses 2 for flag parse errors) */
  usage: 2,
  /** an input file or folder is missing or unreadable */
  missingInput: 3,
  /** an input exists but violates its contract (bad NPZ, bad config, bad schema) */
  contract: 4,
  /** nothing matched the filters */
  noMatch: 5,
  /** an internal error: a bug in study */
  internal: 70,
} as const

export class StudyError extends Error {
  readonly exitCode: number = EXIT.internal
  constructor(message: string, options?: {cause?: unknown}) {
    super(message, options)
    this.name = new.target.name
  }
}

export class UsageError extends StudyError {
  override readonly exitCode = EXIT.usage
}

export class MissingInputError extends StudyError {
  override readonly exitCode = EXIT.missingInput
  constructor(
    readonly path: string,
    what: string,
    options?: {cause?: unknown; detail?: string},
  ) {
    super(`${what} not found: ${path}${options?.detail ? ` (${options.detail})` : ''}`, options)
  }
}

/** An input that exists but is not what was expected: names the file, the field and the expectation. */
export class ContractError extends StudyError {
  override readonly exitCode = EXIT.contract
  constructor(
    readonly file: string | undefined,
    readonly field: string | undefined,
    readonly expected: string,
    options?: {cause?: unknown},
  ) {
    const where = [file, field ? `field '${field}'` : undefined].filter(Boolean).join(': ')
    super(where ? `${where}: ${expected}` : expected, options)
  }
}

export class NoMatchError extends StudyError {
  override readonly exitCode = EXIT.noMatch
}

export class JobsFailedError extends StudyError {
  override readonly exitCode = EXIT.failed
}

/** Exit code of an output that cannot be written (sysexits EX_CANTCREAT): permission, read-only disk, no space. */
export const EXIT_CANNOT_WRITE = 73

/** An output file or folder that cannot be written (not a bug in study: the environment refuses the write). */
export class OutputError extends StudyError {
  override readonly exitCode = EXIT_CANNOT_WRITE
  constructor(
    readonly path: string,
    message: string,
    options?: {cause?: unknown},
  ) {
    super(message, options)
  }
}

/** Render a zod error for a human, naming the source (file or flag set). */
export function zodContractError(source: string, error: ZodError): ContractError {
  return new ContractError(source, undefined, `invalid values:\n${z.prettifyError(error)}`, {cause: error})
}

/** Work stopped by Ctrl-C, SIGTERM or a job timeout (exit 130, as a shell reports SIGINT). */
export class InterruptedError extends StudyError {
  override readonly exitCode = 130
}

/** Prediction stopped between two batches because its abort signal fired; nothing was written. */
export class PredictionInterrupted extends InterruptedError {
  constructor(
    readonly done: number,
    readonly total: number,
  ) {
    super(`prediction interrupted after ${done} of ${total} groups`)
  }
}
