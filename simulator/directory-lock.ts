/**
 * A lock file naming the pid of the process that keeps its state in a directory, so that two never save over each
 * other's state there (each would answer for what it saved, and a later save of the other would forget it). Within
 * one process, a directory is held once. A lock left by a process that is gone (`kill -9`) is taken over, and so is
 * one naming this very pid that this process does not hold (a container restarted with the same pid): where the system
 * shows a process's command line (Linux's `/proc`), a pid that now runs another program (after a reboot) is gone too.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface DirectoryLockSettings {
  /** The lock file's name in the directory. */
  readonly fileName: string;
  /** Whether a running process with this command line (its arguments, the program first) may be the lock's holder. */
  readonly isHolderCommand: (commandLine: readonly string[]) => boolean;
  /** The error for a directory held by the running process `holderPid` (this one's, when it holds it already). */
  readonly inUse: (holderPid: number, lockPath: string) => Error;
  /**
   * The temporary files of saves a killed holder never finished (`ReplacedFile` writes `<file>.<pid>.tmp`, then
   * renames it), removed once the directory is held: no one else's save can then be under way.
   */
  readonly isUnfinishedSave: (fileName: string) => boolean;
  readonly pid?: number;
}

/** The lock paths this process holds. */
const heldHere = new Set<string>();

/**
 * Takes the directory for this process (making it if need be); answers the function that lets go of it.
 *
 * @throws the `inUse` error when a running process, this one included, holds it
 */
export function lockDirectory(directory: string, settings: DirectoryLockSettings): () => void {
  const pid = settings.pid ?? process.pid;
  mkdirSync(directory, { recursive: true });
  const path = resolve(directory, settings.fileName);
  if (heldHere.has(path)) throw settings.inUse(process.pid, path);
  for (;;) {
    try {
      writeFileSync(path, String(pid), { flag: 'wx' });
      heldHere.add(path);
      for (const name of readdirSync(directory)) {
        if (settings.isUnfinishedSave(name)) rmSync(join(directory, name), { force: true });
      }
      return () => {
        heldHere.delete(path);
        if (holderOf(path) === pid) rmSync(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = holderOf(path);
    if (holder !== undefined && holder !== pid && isRunning(holder, settings.isHolderCommand)) {
      throw settings.inUse(holder, path);
    }
    rmSync(path, { force: true });
  }
}

/** Whether `path` names a directory, or nothing yet (where one can be made). */
export function isDirectoryOrAbsent(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

function holderOf(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is a running process that may hold the lock. A lock outlives a `kill -9` or a reboot, after which its
 * pid may be another program's: where the system shows a process's command line, that one is not taken for a holder.
 */
function isRunning(pid: number, isHolderCommand: (commandLine: readonly string[]) => boolean): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // Someone else's process is running all the same.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return isHolderCommand(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'));
  } catch {
    return true;
  }
}
