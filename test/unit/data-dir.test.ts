/**
 * `npm start`'s hold on its data directory: one process at a time, a dead holder's lock taken over; a first start
 * killed before it was ready begun again, a directory that was ready and lost a half refused.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  DATA_DIR_LOCK_FILE_NAME,
  DataDirInUseError,
  FIRST_START_FILE_NAME,
  firstStartReady,
  IncompleteDataDirError,
  lockDataDir,
  prepareDataDir,
} from '../../local/data-dir.ts';

let dataDir: string;
let lockFile: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'data-dir-lock-'));
  lockFile = join(dataDir, DATA_DIR_LOCK_FILE_NAME);
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

/** The fields of `/proc/<pid>/stat` after the command name: the state first, the start time 20th. */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The pid of a process that has ended. */
function pidOfEndedProcess(): number {
  const { stdout } = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(stdout);
}

test('a running npm start keeps it: another process is refused, naming the holder and the lock', async () => {
  // A process whose command line names npm start's script stands for the npm start that holds it.
  const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'local/start.ts'], { stdio: 'ignore' });
  await new Promise((resolve) => holder.once('spawn', resolve));
  try {
    writeFileSync(lockFile, String(holder.pid));
    expect(() => lockDataDir(dataDir)).toThrow(DataDirInUseError);
    expect(() => lockDataDir(dataDir)).toThrow(
      `Another npm start (pid ${holder.pid}) is using the data directory ${dataDir}`,
    );
    expect(() => lockDataDir(dataDir)).toThrow(`If no npm start is running, delete ${lockFile}.`);
  } finally {
    holder.kill('SIGKILL');
  }
});

test('a stale lock another npm start is taking over names the lock that start keeps meanwhile', async () => {
  const taking = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'local/start.ts'], { stdio: 'ignore' });
  await new Promise((resolve) => taking.once('spawn', resolve));
  try {
    writeFileSync(lockFile, String(pidOfEndedProcess()));
    // Stopped (SIGSTOP, say) in the middle of its takeover: this start waits a moment for it, then refuses.
    const [state, ...rest] = statFields(taking.pid!);
    expect(state).not.toBe('Z');
    writeFileSync(`${lockFile}.takeover`, `${taking.pid} ${rest[18]}`);
    const refusal = (() => {
      try {
        lockDataDir(dataDir);
      } catch (error) {
        return error as Error;
      }
      throw new Error('the data directory was taken');
    })();
    expect(refusal).toBeInstanceOf(DataDirInUseError);
    expect(refusal.message).toContain(`Another npm start (pid ${taking.pid}) is using the data directory ${dataDir}`);
    expect(refusal.message).toContain(`If no npm start is running, delete ${lockFile}.takeover.`);
  } finally {
    taking.kill('SIGKILL');
  }
});

test('a lock records when its holder started: the same pid started at another time (a reboot) is no holder', async () => {
  const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'local/start.ts'], { stdio: 'ignore' });
  await new Promise((resolve) => holder.once('spawn', resolve));
  try {
    const startTime = statFields(holder.pid!)[19];
    writeFileSync(lockFile, `${holder.pid} ${startTime}`);
    expect(() => lockDataDir(dataDir)).toThrow(DataDirInUseError);
    writeFileSync(lockFile, `${holder.pid} ${Number(startTime) + 1}`);
    const release = lockDataDir(dataDir);
    expect(readFileSync(lockFile, 'utf8')).toMatch(new RegExp(`^${process.pid} \\d+$`));
    release();
    release();
    expect(existsSync(lockFile)).toBe(false);
  } finally {
    holder.kill('SIGKILL');
  }
});

test('a holder killed but not yet reaped by its parent (a zombie) is gone: its lock is taken over', async () => {
  // The shell starts a short sleep, then becomes a long one that never reaps it: the short one stays a zombie.
  const parent = spawn('sh', ['-c', 'sleep 0.1 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const zombie = Number(
      await new Promise<string>((resolve) => parent.stdout.once('data', (chunk) => resolve(String(chunk)))),
    );
    while (statFields(zombie)[0] !== 'Z') await new Promise((resolve) => setTimeout(resolve, 20));
    writeFileSync(lockFile, `${zombie} ${statFields(zombie)[19]}`);
    const release = lockDataDir(dataDir);
    expect(readFileSync(lockFile, 'utf8').split(' ')[0]).toBe(String(process.pid));
    release();
  } finally {
    parent.kill('SIGKILL');
  }
});

test('a lock whose pid is now another program (after a kill -9 or a reboot) is taken over', () => {
  // The process this test's worker runs under: running, but no npm start.
  writeFileSync(lockFile, String(process.ppid));
  lockDataDir(dataDir)();
  expect(existsSync(lockFile)).toBe(false);
});

test("a holder that is gone (killed) is taken over, and letting go removes only one's own lock", () => {
  writeFileSync(lockFile, String(pidOfEndedProcess()));
  const release = lockDataDir(dataDir);
  expect(readFileSync(lockFile, 'utf8').split(' ')[0]).toBe(String(process.pid));
  release();
  expect(existsSync(lockFile)).toBe(false);

  const releaseFirst = lockDataDir(dataDir);
  releaseFirst();
  writeFileSync(lockFile, String(process.pid + 1));
  releaseFirst();
  expect(readFileSync(lockFile, 'utf8')).toBe(String(process.pid + 1));
});

test('a save a killed process left unfinished is cleared once the directory is held; finished files stay', () => {
  writeFileSync(join(dataDir, 'marketplace-simulator.json'), '{}');
  writeFileSync(join(dataDir, 'marketplace-simulator.json.27874.tmp'), '{"half');
  lockDataDir(dataDir)();
  expect(existsSync(join(dataDir, 'marketplace-simulator.json.27874.tmp'))).toBe(false);
  expect(readFileSync(join(dataDir, 'marketplace-simulator.json'), 'utf8')).toBe('{}');
});

describe('a first start', () => {
  const file = (name: string) => join(dataDir, name);
  const warnings: string[] = [];
  const prepare = () => prepareDataDir(dataDir, (line) => warnings.push(line));
  beforeEach(() => {
    warnings.length = 0;
  });

  test('is marked until it is ready; the next start is no first start', () => {
    expect(prepare()).toEqual({ firstStart: true });
    expect(existsSync(file(FIRST_START_FILE_NAME))).toBe(true);
    writeFileSync(file('shared-local-instance.db'), 'tables');
    writeFileSync(file('marketplace-simulator.json'), '{}');
    firstStartReady(dataDir);
    expect(existsSync(file(FIRST_START_FILE_NAME))).toBe(false);
    expect(prepare()).toEqual({ firstStart: false });
    expect(readFileSync(file('shared-local-instance.db'), 'utf8')).toBe('tables');
    expect(warnings).toEqual([]);
  });

  test('killed before it was ready (tables made, no simulator state yet) is begun again, not refused', () => {
    prepare();
    writeFileSync(file('shared-local-instance.db'), 'tables');
    writeFileSync(file('local-queues.json'), '{}');
    expect(prepare()).toEqual({ firstStart: true });
    expect(existsSync(file('shared-local-instance.db'))).toBe(false);
    expect(existsSync(file('local-queues.json'))).toBe(false);
    expect(existsSync(file(FIRST_START_FILE_NAME))).toBe(true);
    expect(warnings).toEqual([
      `npm start: the first start in ${dataDir} stopped before it was ready; starting it afresh`,
    ]);
  });

  test('killed once both halves were on disk is restarted like any other: nothing is removed', () => {
    prepare();
    writeFileSync(file('shared-local-instance.db'), 'tables');
    writeFileSync(file('marketplace-simulator.json'), '{}');
    expect(prepare()).toEqual({ firstStart: false });
    expect(readFileSync(file('shared-local-instance.db'), 'utf8')).toBe('tables');
    expect(readFileSync(file('marketplace-simulator.json'), 'utf8')).toBe('{}');
    expect(existsSync(file(FIRST_START_FILE_NAME))).toBe(false);
    expect(warnings).toEqual([]);
  });

  test('once ready, a directory that lost a half is refused, its files kept', () => {
    prepare();
    writeFileSync(file('shared-local-instance.db'), 'tables');
    writeFileSync(file('marketplace-simulator.json'), '{}');
    firstStartReady(dataDir);
    rmSync(file('marketplace-simulator.json'));
    expect(prepare).toThrow(IncompleteDataDirError);
    expect(readFileSync(file('shared-local-instance.db'), 'utf8')).toBe('tables');
  });
});
