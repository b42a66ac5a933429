/** `npm start`'s hold on its data directory: one process at a time, a dead holder's lock taken over. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { DATA_DIR_LOCK_FILE_NAME, DataDirInUseError, lockDataDir } from '../../local/data-dir.ts';

let dataDir: string;
let lockFile: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'data-dir-lock-'));
  lockFile = join(dataDir, DATA_DIR_LOCK_FILE_NAME);
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

/** The pid of a process that has ended. */
function pidOfEndedProcess(): number {
  const { stdout } = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(stdout);
}

test('a running holder keeps it: another process is refused, naming the holder', () => {
  // This test's own process stands for the npm start that holds it.
  writeFileSync(lockFile, String(process.pid));
  expect(() => lockDataDir(dataDir, process.pid + 1)).toThrow(DataDirInUseError);
  expect(() => lockDataDir(dataDir, process.pid + 1)).toThrow(`Another npm start (pid ${process.pid})`);
});

test("a holder that is gone (killed) is taken over, and letting go removes only one's own lock", () => {
  writeFileSync(lockFile, String(pidOfEndedProcess()));
  const release = lockDataDir(dataDir, process.pid);
  expect(readFileSync(lockFile, 'utf8')).toBe(String(process.pid));
  release();
  expect(existsSync(lockFile)).toBe(false);

  const releaseFirst = lockDataDir(dataDir, process.pid);
  releaseFirst();
  writeFileSync(lockFile, String(process.pid + 1));
  releaseFirst();
  expect(readFileSync(lockFile, 'utf8')).toBe(String(process.pid + 1));
});

test('a save a killed process left unfinished is cleared once the directory is held; finished files stay', () => {
  writeFileSync(join(dataDir, 'marketplace-simulator.json'), '{}');
  writeFileSync(join(dataDir, 'marketplace-simulator.json.27874.tmp'), '{"half');
  lockDataDir(dataDir, process.pid)();
  expect(existsSync(join(dataDir, 'marketplace-simulator.json.27874.tmp'))).toBe(false);
  expect(readFileSync(join(dataDir, 'marketplace-simulator.json'), 'utf8')).toBe('{}');
});
