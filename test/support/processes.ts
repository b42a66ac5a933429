/** Process checks for the tests that prove no child process (java above all) outlives its owner. */
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** Pids of java processes started with `-port <port>`, read from /proc so that nothing else needs installing. */
export async function javaProcessesOnPort(port: number): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry));
  const matches = await Promise.all(
    pids.map(async (pid) => {
      const commandLine = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      const [executable, ...args] = commandLine.split('\0');
      const portIndex = args.indexOf('-port');
      const isJava = executable?.split('/').at(-1) === 'java';
      return isJava && portIndex >= 0 && args[portIndex + 1] === String(port) ? [Number(pid)] : [];
    }),
  );
  return matches.flat();
}

export async function expectGone(pid: number, port: number): Promise<void> {
  expect(isRunning(pid)).toBe(false);
  expect(await javaProcessesOnPort(port)).toEqual([]);
}

export async function waitUntilGone(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid) && Date.now() < deadline) await sleep(50);
}
