/**
 * A lock file naming the process that keeps its state in a directory, so that two never save over each other's state
 * there (each would answer for what it saved, and a later save of the other would forget it). Within one process, a
 * directory is held once. A lock left by a process that is gone (`kill -9`) is taken over (by one of several starts
 * that try at once), and so is one naming this very pid that this process does not hold (a container restarted with
 * the same pid). Where the system shows processes (Linux's `/proc`), the lock also records when its holder started, so
 * that a pid that now names another process (after a reboot) is known to be gone too; a lock without that time is
 * judged by the holder's command line.
 */
import { linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
  /**
   * Another check that the directory is free (a lock of another kind in it), made once this lock is held and before
   * anything in the directory is touched; what it throws lets go of the lock and stops the taking.
   */
  readonly refuseOtherHolders?: () => void;
}

/** The lock paths this process holds. */
const heldHere = new Set<string>();

/**
 * Takes the directory for this process (making it if need be); answers the function that lets go of it (once; a
 * second call does nothing).
 *
 * @throws the `inUse` error when a running process, this one included, holds it
 */
export function lockDirectory(directory: string, settings: DirectoryLockSettings): () => void {
  mkdirSync(directory, { recursive: true });
  const path = resolve(directory, settings.fileName);
  const takeOverBy = Date.now() + TAKEOVER_WAIT_MS;
  for (;;) {
    const holder = runningHolder(path, readLock(path), settings);
    if (holder !== undefined) throw settings.inUse(holder, path);
    if (createLock(path) || takeOverStaleLock(path, settings, takeOverBy)) break;
  }
  heldHere.add(path);
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    heldHere.delete(path);
    if (holderOf(path)?.pid === process.pid) rmSync(path, { force: true });
  };
  try {
    settings.refuseOtherHolders?.();
  } catch (error) {
    release();
    throw error;
  }
  for (const name of readdirSync(directory)) {
    if (settings.isUnfinishedSave(name) || isLeftOverStep(name, settings.fileName)) {
      rmSync(join(directory, name), { force: true });
    }
  }
  return release;
}

/** How long a start waits for another one's takeover of a stale lock, which takes milliseconds, before refusing. */
const TAKEOVER_WAIT_MS = 2_000;

/**
 * Makes this process's lock at `path` if there is none there: of any number of starts at once, one does. Written aside
 * and linked into place, so that it is never seen empty (a start reading it between its making and its writing would
 * take it for a dead holder's); where the file system has no links, made in place.
 */
function createLock(path: string): boolean {
  const draft = `${path}.${process.pid}.draft`;
  writeFileSync(draft, lockContent(process.pid));
  try {
    linkSync(draft, path);
    return true;
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
    return createInPlace(path);
  } finally {
    rmSync(draft, { force: true });
  }
}

function createInPlace(path: string): boolean {
  try {
    writeFileSync(path, lockContent(process.pid), { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/**
 * Replaces a lock whose holder is gone by this process's, holding `<lock>.takeover` meanwhile, which one start at a
 * time makes. Two starts after a `kill -9` both find the dead holder's lock: without it, the second would remove the
 * lock the first had just made in its place, and both would hold the directory. Answers whether it took the lock; when
 * not, the caller looks again at who holds it.
 *
 * A takeover lock left by a start killed in its few milliseconds of taking over is removed; a live one is waited for,
 * until `takeOverBy`, after which its holder is said to hold the directory.
 */
function takeOverStaleLock(
  path: string,
  settings: Pick<DirectoryLockSettings, 'isHolderCommand' | 'inUse'>,
  takeOverBy: number,
): boolean {
  const guard = `${path}.takeover`;
  if (!createLock(guard)) {
    const seen = readLock(guard);
    const other = seen === undefined ? undefined : holderIn(seen);
    const gone =
      other === undefined
        ? ageMs(guard) > TAKEOVER_WAIT_MS
        : other.pid === process.pid || !isRunning(other, settings.isHolderCommand);
    if (gone) {
      removeIfStill(guard, seen);
    } else if (other !== undefined && Date.now() > takeOverBy) {
      throw settings.inUse(other.pid, guard);
    } else {
      sleepSync(10);
    }
    return false;
  }
  const mine = readLock(guard);
  try {
    const stale = readLock(path);
    // Judged on what was read: only that lock is removed, should another have taken its place meanwhile.
    if (runningHolder(path, stale, settings) !== undefined) return false;
    removeIfStill(path, stale);
    return createLock(path);
  } finally {
    removeIfStill(guard, mine);
  }
}

/**
 * Removes the file at `path` if it still holds `judged` (`undefined`: no content that could be read): moved aside in
 * one step and looked at there, it is put back if another start replaced it since it was read. Removed in place,
 * another start's file made meanwhile would go instead.
 */
function removeIfStill(path: string, judged: string | undefined): void {
  const aside = `${path}.${process.pid}.aside`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    if (readLock(aside) !== judged) linkSync(aside, path);
  } catch (error) {
    // Another file took the place meanwhile: it stands, and the next look finds it.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    rmSync(aside, { force: true });
  }
}

/** A lock's draft or moved-aside copy that a start killed in its midst left behind (another's is in use). */
function isLeftOverStep(name: string, fileName: string): boolean {
  if (!name.startsWith(`${fileName}.`)) return false;
  const pid = /\.(\d+)\.(draft|aside)$/.exec(name)?.[1];
  // Any process with that pid may be the one making it: only a pid no process has is surely gone.
  return pid !== undefined && !isRunning({ pid: Number(pid) }, () => true);
}

/** How long ago the file was last written; 0 when it is not there. */
function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * The pid of the running process that holds the directory's lock (this one's, if it does), or `undefined` when no one
 * does: for a check before the directory is touched by someone who will take the lock later.
 */
export function lockHolder(directory: string, settings: Pick<DirectoryLockSettings, 'fileName' | 'isHolderCommand'>) {
  const path = resolve(directory, settings.fileName);
  return runningHolder(path, readLock(path), settings);
}

/** Whether `path` names something other than a directory: where a directory cannot be made. */
export function namesANonDirectory(path: string): boolean {
  try {
    return !statSync(path).isDirectory();
  } catch {
    // Nothing there (or nothing to be seen): making the directory will say what is wrong, if anything is.
    return false;
  }
}

function runningHolder(
  path: string,
  lock: string | undefined,
  settings: Pick<DirectoryLockSettings, 'isHolderCommand'>,
): number | undefined {
  if (heldHere.has(path)) return process.pid;
  const holder = lock === undefined ? undefined : holderIn(lock);
  if (holder === undefined || holder.pid === process.pid) return undefined;
  return isRunning(holder, settings.isHolderCommand) ? holder.pid : undefined;
}

interface Holder {
  readonly pid: number;
  /** When it started, as `/proc/<pid>/stat` says (clock ticks since boot), where the system shows it. */
  readonly startTime?: string | undefined;
}

function lockContent(pid: number): string {
  const startTime = statOf(pid)?.startTime;
  return startTime === undefined ? String(pid) : `${pid} ${startTime}`;
}

/** The lock file's content; `undefined` when there is none (or it cannot be read). */
function readLock(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function holderOf(path: string): Holder | undefined {
  const lock = readLock(path);
  return lock === undefined ? undefined : holderIn(lock);
}

function holderIn(content: string): Holder | undefined {
  const [pidText = '', startTime] = content.trim().split(/\s+/);
  const pid = Number(pidText);
  return Number.isInteger(pid) && pid > 0 ? { pid, startTime } : undefined;
}

/**
 * What `/proc/<pid>/stat` says of a process, where the system shows it: its state (field 3) and when it started
 * (field 22), counted after the command name (in parentheses, which may hold spaces).
 */
function statOf(pid: number): { state: string | undefined; startTime: string | undefined } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], startTime: fields[19] };
  } catch {
    return undefined;
  }
}

/** A process killed but not yet reaped by its parent (a zombie), or dying: its pid is no holder any more. */
const ENDED_STATES = new Set(['Z', 'X', 'x']);

/**
 * Whether the lock's holder is still running. A lock outlives a `kill -9` or a reboot, after which its pid may be
 * another process's, or still name the killed one until its parent reaps it: a process that has ended, started at
 * another time, or (for a lock without that time) runs another program, is not taken for the holder.
 */
function isRunning(holder: Holder, isHolderCommand: (commandLine: readonly string[]) => boolean): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // Someone else's process is running all the same.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = statOf(holder.pid);
  if (stat?.state !== undefined && ENDED_STATES.has(stat.state)) return false;
  if (stat?.startTime !== undefined && holder.startTime !== undefined) return stat.startTime === holder.startTime;
  try {
    return isHolderCommand(readFileSync(`/proc/${holder.pid}/cmdline`, 'utf8').split('\0'));
  } catch {
    return true;
  }
}
