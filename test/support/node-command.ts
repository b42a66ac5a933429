/** A project command run as its npm script runs it (`node --import tsx <file>`), in a child process of its own. */
import { spawn } from 'node:child_process';
import { projectRoot } from '../../local/config.ts';

export interface CommandRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runNodeCommand(args: readonly string[], env: Record<string, string>): Promise<CommandRun> {
  return runProcess(process.execPath, ['--import', 'tsx', ...args], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
  });
}

/** Any command, with exactly the given folder and environment; answers its exit status and output. */
export function runProcess(
  command: string,
  args: readonly string[],
  options: { readonly cwd: string; readonly env: NodeJS.ProcessEnv },
): Promise<CommandRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, options);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}
