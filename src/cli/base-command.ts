import {Command, Errors} from '@oclif/core'

import {EXIT, StudyError} from '../errors.js'

/**
 * The only place that turns failures into exit codes. Commands throw typed StudyErrors from the library;
 * this prints their message (no stack) and exits with the error's code.
 */
export abstract class BaseCommand extends Command {
  protected override async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (error instanceof StudyError) {
      this.logToStderr(`error: ${error.message}`)
      this.exit(error.exitCode)
    }
    // oclif's own parse errors (unknown flag, missing required flag) keep their exit code 2
    if (error instanceof Errors.CLIError || error.oclif?.exit !== undefined) return super.catch(error)
    this.logToStderr(`internal error: ${error.stack ?? error.message}`)
    this.exit(EXIT.internal)
  }
}
