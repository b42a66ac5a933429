import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { LocalStackError } from './errors.ts';

/**
 * Runs a command so that it cannot outlive the Node process that started it.
 *
 * Node cannot ask the kernel to signal a child when its parent dies (PR_SET_PDEATHSIG), so the command runs under a
 * small POSIX `sh` watchdog instead. The watchdog's stdin is a pipe whose only writer is this Node process; the
 * kernel closes it however Node ends (normal exit, uncaught exception, SIGTERM, SIGKILL), and on end-of-file the
 * watchdog terminates the command (TERM, then KILL after a grace period). TERM, INT and HUP sent to the watchdog are
 * forwarded to the command as TERM, and the watchdog exits only once the command has, with its exit status.
 *
 * The watchdog leads its own process group: a terminal's Ctrl-C reaches only the owner, which decides how to stop the
 * command, and `stop()` can still KILL the whole group if the command ignores TERM.
 */

export interface SupervisedProcessOptions {
  readonly command: string;
  readonly args?: readonly string[];
  readonly cwd?: string;
  /** Added to this process's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** How long `stop()` waits after TERM before it KILLs. */
  readonly stopTimeoutMs?: number;
  /** How long the watchdog waits after TERM before it KILLs, once this Node process is gone. */
  readonly orphanGraceSeconds?: number;
  /** How many characters of stdout and of stderr to keep for error messages. */
  readonly outputTailLength?: number;
}

export interface ProcessExit {
  /** The command's exit status; 128 + n when a signal n ended it. Null only when the watchdog itself was killed. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SupervisedProcess {
  /** Pid of the command itself, not of the watchdog around it. */
  readonly pid: number;
  /** Resolves once the command and its watchdog have exited, whatever the reason. */
  readonly exited: Promise<ProcessExit>;
  /** Undefined while the command runs. */
  readonly exit: ProcessExit | undefined;
  stdoutTail(): string;
  stderrTail(): string;
  /** TERM, then KILL after `stopTimeoutMs`; resolves once the command has exited. Safe to call more than once. */
  stop(): Promise<ProcessExit>;
}

export class ProcessStartError extends LocalStackError {
  override readonly name = 'ProcessStartError';
}

// Positional parameters: $1 is the orphan grace in seconds, the rest is the command line.
// File descriptors: 0 is the pipe from Node (moved to 4 for the parent watch), 3 is where the command's pid is
// reported. The command gets /dev/null as stdin and neither pipe, so only the parent watch sees Node go away.
const watchdogScript = `
grace=$1
shift
trap 'kill -TERM "$child" 2>/dev/null' TERM INT HUP
exec 4<&0 </dev/null
"$@" 3>&- 4<&- &
child=$!
{
  # read fails only at end-of-file: nothing holds the write end any more, so Node is gone.
  while read -r _; do :; done
  kill -TERM "$child" 2>/dev/null
  waited=0
  while [ "$waited" -lt "$grace" ] && kill -0 "$child" 2>/dev/null; do
    sleep 1
    waited=$((waited + 1))
  done
  kill -KILL "$child" 2>/dev/null
} <&4 3>&- 4<&- &
parent_watch=$!
exec 4<&-
echo "$child" >&3
exec 3>&-
# wait also returns when a trapped signal arrives; the command may still be shutting down then.
while :; do
  wait "$child"
  status=$?
  kill -0 "$child" 2>/dev/null || break
done
kill "$parent_watch" 2>/dev/null
exit "$status"
`;

export async function startSupervisedProcess(options: SupervisedProcessOptions): Promise<SupervisedProcess> {
  const stopTimeoutMs = options.stopTimeoutMs ?? 5_000;
  const outputTailLength = options.outputTailLength ?? 8_192;

  const watchdog = spawn(
    '/bin/sh',
    [
      '-c',
      watchdogScript,
      'supervised-process',
      String(options.orphanGraceSeconds ?? 5),
      options.command,
      ...(options.args ?? []),
    ],
    {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      detached: true,
    },
  );
  // Nothing is ever written to the watchdog's stdin; an EPIPE when it exits first is expected.
  watchdog.stdin?.on('error', () => {});

  const stdout = collectTail(watchdog.stdout, outputTailLength);
  const stderr = collectTail(watchdog.stderr, outputTailLength);

  let exit: ProcessExit | undefined;
  const exited = new Promise<ProcessExit>((resolve) => {
    watchdog.once('close', (code, signal) => {
      exit = { code, signal };
      watchdog.stdin?.destroy();
      resolve(exit);
    });
  });

  const pid = await readReportedPid(watchdog, options.command, stderr);

  let stopping: Promise<ProcessExit> | undefined;
  const stop = (): Promise<ProcessExit> => {
    stopping ??= exit ? exited : terminate(watchdog, pid, exited, stopTimeoutMs);
    return stopping;
  };

  return {
    pid,
    exited,
    get exit() {
      return exit;
    },
    stdoutTail: () => stdout.text,
    stderrTail: () => stderr.text,
    stop,
  };
}

function collectTail(stream: Readable | null, length: number): { text: string } {
  const tail = { text: '' };
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    tail.text = (tail.text + chunk).slice(-length);
  });
  return tail;
}

function readReportedPid(watchdog: ChildProcess, command: string, stderr: { text: string }): Promise<number> {
  const pidPipe = watchdog.stdio[3] as Readable;
  return new Promise((resolve, reject) => {
    let reported = '';
    pidPipe.setEncoding('utf8');
    pidPipe.on('data', (chunk: string) => (reported += chunk));
    pidPipe.once('end', () => {
      const pid = Number.parseInt(reported, 10);
      if (Number.isInteger(pid) && pid > 0) {
        resolve(pid);
      } else {
        reject(new ProcessStartError(`The watchdog for ${command} exited before starting it: ${stderr.text.trim()}`));
      }
    });
    watchdog.once('error', (error) => {
      reject(
        new ProcessStartError(`Could not start /bin/sh to supervise ${command}: ${error.message}`, { cause: error }),
      );
    });
  });
}

/**
 * TERM through the watchdog first. A command that ignores it is KILLed by pid while the watchdog still waits for it,
 * so the watchdog reaps it and `stop()` never resolves on a zombie. Only if something still holds the output pipes
 * (a grandchild, or a wedged watchdog) does the whole process group get KILLed.
 */
async function terminate(
  watchdog: ChildProcess,
  commandPid: number,
  exited: Promise<ProcessExit>,
  timeoutMs: number,
): Promise<ProcessExit> {
  watchdog.kill('SIGTERM');
  if (await exitsWithin(exited, timeoutMs)) {
    return exited;
  }
  sendKill(commandPid);
  if (await exitsWithin(exited, reapTimeoutMs)) {
    return exited;
  }
  if (watchdog.pid !== undefined) {
    sendKill(-watchdog.pid);
  }
  return exited;
}

const reapTimeoutMs = 1_000;

async function exitsWithin(exited: Promise<ProcessExit>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const outcome = await Promise.race([exited.then(() => true), timedOut]);
  clearTimeout(timer);
  return outcome;
}

/** SIGKILL to a pid, or to a process group when negative. */
function sendKill(target: number): void {
  try {
    process.kill(target, 'SIGKILL');
  } catch (error) {
    // It may have exited since the last check.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') {
      throw error;
    }
  }
}
