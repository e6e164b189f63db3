/**
 * One `study train` at a time per artifact root: two runs writing the same job folders and manifest would
 * corrupt each other's records. The lock file holds the owner's pid; a lock whose process is gone is stale
 * and taken over.
 */
import {open, readFile, rm} from 'node:fs/promises'
import path from 'node:path'

import {EXIT, StudyError} from '../errors.js'
import {processAlive} from '../util/process.js'

export const LOCK_FILE = '.study-train.lock'

export class ArtifactRootLockedError extends StudyError {
  override readonly exitCode = EXIT.usage
}

/** Take the artifact root's lock; returns the release function. */
export async function lockArtifactRoot(artifactRoot: string): Promise<() => Promise<void>> {
  const file = path.join(artifactRoot, LOCK_FILE)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, 'wx')
      await fh.writeFile(`${process.pid}\n`)
      await fh.close()
      return async () => {
        await rm(file, {force: true})
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const pid = Number.parseInt((await readFile(file, 'utf8').catch(() => '')).trim(), 10)
      if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) {
        throw new ArtifactRootLockedError(
          `another 'study train' (pid ${pid}) is using ${artifactRoot}; wait for it to finish, or remove ${file} if that process is not a study run`,
        )
      }
      await rm(file, {force: true}) // stale: its process is gone
    }
  }
  throw new ArtifactRootLockedError(`could not take the lock ${file}`)
}
