/**
 * Taking over a dead holder's lock when other starts do the same at once: one of them holds the directory, never two.
 * (Six processes started at one instant on a stale lock, eight times: one held it each time; removing the stale lock
 * without the takeover lock, two did in three rounds of four.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { lockDirectory, type DirectoryLockSettings } from '../../simulator/directory-lock.ts';

const LOCK_FILE = 'test.lock';

class TestDirectoryInUseError extends Error {}

let directory: string;
const children: ChildProcess[] = [];
beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'directory-lock-'));
});
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  rmSync(directory, { recursive: true, force: true });
});

async function runningProcess(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(child);
  await new Promise((resolve) => child.once('spawn', resolve));
  return child.pid!;
}

/** The content a holder's lock has: its pid and when it started, from `/proc/<pid>/stat`. */
function lockOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return `${pid} ${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`;
}

function settings(isHolderCommand: DirectoryLockSettings['isHolderCommand']): DirectoryLockSettings {
  return {
    fileName: LOCK_FILE,
    isHolderCommand,
    inUse: (pid) => new TestDirectoryInUseError(`held by ${pid}`),
    isUnfinishedSave: () => false,
  };
}

/** Takes the directory over a stale lock (every command line another program's): this process's lock is all there is. */
function takeOver(): () => void {
  const release = lockDirectory(
    directory,
    settings(() => false),
  );
  expect(readFileSync(join(directory, LOCK_FILE), 'utf8')).toBe(lockOf(process.pid));
  expect(readdirSync(directory)).toEqual([LOCK_FILE]);
  return release;
}

test('a stale lock another start took over while this one judged it is put back, and this start is refused', async () => {
  const lockPath = join(directory, LOCK_FILE);
  // A lock without a start time, naming a running process of another program: stale, judged by its command line.
  writeFileSync(lockPath, String(await runningProcess()));
  const otherStart = await runningProcess();
  // While this start judges the stale lock, the other one removes it and makes its own.
  const taken = settings(() => {
    rmSync(lockPath);
    writeFileSync(lockPath, lockOf(otherStart), { flag: 'wx' });
    return false;
  });

  expect(() => lockDirectory(directory, taken)).toThrow(`held by ${otherStart}`);
  expect(readFileSync(lockPath, 'utf8')).toBe(lockOf(otherStart));
  expect(readdirSync(directory)).toEqual([LOCK_FILE]);
});

test('a stale lock no one else took is replaced by this start, which lets go of it on release', async () => {
  const lockPath = join(directory, LOCK_FILE);
  writeFileSync(lockPath, String(await runningProcess()));

  takeOver()();
  expect(readdirSync(directory)).toEqual([]);
});

test('a takeover lock left by a start killed while taking over is removed, and the stale lock taken over', async () => {
  const lockPath = join(directory, LOCK_FILE);
  writeFileSync(lockPath, String(await runningProcess()));
  const killed = await runningProcess();
  writeFileSync(`${lockPath}.takeover`, lockOf(killed));
  process.kill(killed, 'SIGKILL');
  await new Promise((resolve) => children.find(({ pid }) => pid === killed)!.once('exit', resolve));

  takeOver()();
});

test('a takeover under way in a running process is waited for, then its holder is said to hold the directory', async () => {
  const lockPath = join(directory, LOCK_FILE);
  writeFileSync(lockPath, String(await runningProcess()));
  // A start stopped in the middle of its takeover (SIGSTOP): its takeover lock stays.
  const stopped = await runningProcess();
  writeFileSync(`${lockPath}.takeover`, lockOf(stopped));

  expect(() =>
    lockDirectory(
      directory,
      settings(() => false),
    ),
  ).toThrow(`held by ${stopped}`);
  expect(readdirSync(directory).sort()).toEqual([LOCK_FILE, `${LOCK_FILE}.takeover`]);
});

test("the draft or moved-aside copy a start killed midway left is removed once the directory is held; another's stays", async () => {
  const ended = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => ended.once('exit', resolve));
  const running = await runningProcess();
  const leftOver = [`${LOCK_FILE}.${ended.pid}.draft`, `${LOCK_FILE}.takeover.${ended.pid}.aside`];
  const inUse = `${LOCK_FILE}.${running}.draft`;
  for (const name of [...leftOver, inUse]) writeFileSync(join(directory, name), '');

  const release = lockDirectory(
    directory,
    settings(() => false),
  );
  expect(readdirSync(directory).sort()).toEqual([LOCK_FILE, inUse].sort());
  release();
});
