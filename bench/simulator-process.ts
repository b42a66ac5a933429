/**
 * The simulator in its own process, started the way `npm run simulator` starts it, so a benchmark's client and the
 * simulator do not share an event loop.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { projectRoot } from '../local/config.ts';
import { startSupervisedProcess } from '../local/supervised-process.ts';

export interface SimulatorProcess {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startLocalSimulatorProcess(): Promise<SimulatorProcess> {
  const simulator = await startSupervisedProcess({
    command: process.execPath,
    args: ['--import', 'tsx', 'simulator/main.ts'],
    cwd: projectRoot,
    env: { SIMULATOR_PORT: '0' },
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const url = /listening on (http:\/\/\S+)/.exec(simulator.stdoutTail())?.[1];
    if (url !== undefined) return { url, stop: async () => void (await simulator.stop()) };
    if (simulator.exit !== undefined || Date.now() > deadline) {
      await simulator.stop();
      throw new Error(`The simulator did not start: ${simulator.stderrTail()}`);
    }
    await sleep(50);
  }
}
