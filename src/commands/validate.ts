import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {formatValidationReport, validateNpzFiles} from '../data/dataset-contract.js'
import {JobsFailedError, MissingInputError} from '../errors.js'

export default class Validate extends BaseCommand {
  static override summary = 'Check NPZ datasets against the DATA-001 contract'
  static override description =
    'Checks each file for the keys, dtypes and shapes the study needs (DATA-001), the OVERSAMPLING-001 rule ' +
    'when --gridsize > 1, non-finite or negative diffraction amplitudes, a probe that is not N x N or does not ' +
    'match the diffraction, and the normalisation heuristics (warnings only). Reads only the NPZ headers and ' +
    'streams the diffraction values, so large files need little memory.\n\n' +
    'Exit status: 0 all files pass (warnings allowed); 1 at least one file fails; 3 a file does not exist ' +
    '(the other files are still checked and reported); 2 bad flags.'

  static override examples = [
    '<%= config.bin %> validate phase_c/dose_1000/patched_train.npz phase_c/dose_1000/patched_test.npz',
    '<%= config.bin %> validate --gridsize 2 --neighbor-count 7 phase_d/dose_1000/dense/dense_train.npz',
    '<%= config.bin %> validate --json data/*.npz > validation.json',
  ]

  static override strict = false
  static override args = {
    files: Args.string({description: 'NPZ files to check', required: true}),
  }

  static override flags = {
    gridsize: Flags.integer({description: 'grouping gridsize; > 1 requires --neighbor-count >= gridsize² (OVERSAMPLING-001)', default: 1, min: 1}),
    'neighbor-count': Flags.integer({description: 'K of the K-NN grouping (needed when --gridsize > 1)', min: 1}),
    json: Flags.boolean({description: 'print a machine-readable JSON report on stdout', default: false}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Validate)
    const files = argv as string[]
    const result = await validateNpzFiles(files, {gridsize: flags.gridsize, neighborCount: flags['neighbor-count'] ?? null})
    this.log(flags.json ? JSON.stringify(result, null, 2) : formatValidationReport(result))
    const missing = result.files.filter((r) => r.status === 'missing').map((r) => r.file)
    if (missing.length > 0) throw new MissingInputError(missing.join(', '), missing.length === 1 ? 'NPZ file' : 'NPZ files')
    if (result.counts.failed > 0)
      throw new JobsFailedError(`${result.counts.failed} of ${files.length} file${files.length === 1 ? '' : 's'} failed DATA-001 validation`)
  }
}
