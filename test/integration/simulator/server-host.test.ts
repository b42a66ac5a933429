/**
 * The simulator answers only requests addressed to this machine: it listens on a loopback address, and the URL it
 * gives SDK clients is one it answers.
 */
import { networkInterfaces, platform } from 'node:os';
import { expect, test } from 'vitest';
import { SimulatorControl } from '../../../simulator/control-client.ts';
import { SimulatorError } from '../../../simulator/errors.ts';
import { startSimulator } from '../../../simulator/server.ts';

test('a host that is not a loopback address is refused before anything starts, naming it', async () => {
  for (const host of ['0.0.0.0', '192.168.1.10', 'simulator']) {
    await expect(startSimulator({ host })).rejects.toThrow(
      new SimulatorError(
        `host ${JSON.stringify(host)} is not a loopback address (127.x.x.x, ::1 or localhost): the simulator answers ` +
          'only requests addressed to this machine',
      ),
    );
  }
});

/** The loopback addresses this machine has (macOS has 127.0.0.1 alone; a host may have no IPv6). */
const loopbackAddresses = new Set(
  Object.values(networkInterfaces())
    .flat()
    .filter((address) => address?.internal === true)
    .map((address) => address?.address),
);

async function expectAnswersAt(host: string, url: string): Promise<void> {
  const simulator = await startSimulator({ host });
  try {
    expect(simulator.url).toBe(`${url}:${simulator.port}`);
    await expect(new SimulatorControl(simulator.url).clock()).resolves.toHaveProperty('now');
  } finally {
    await simulator.close();
  }
}

// Linux answers the whole of 127.0.0.0/8 on its loopback interface.
test.skipIf(platform() !== 'linux')('the URL of a simulator on another loopback address is one it answers', () =>
  expectAnswersAt('127.0.0.2', 'http://127.0.0.2'),
);

test.skipIf(!loopbackAddresses.has('::1'))('the URL of a simulator on ::1 brackets it, and it answers there', () =>
  expectAnswersAt('::1', 'http://[::1]'),
);
