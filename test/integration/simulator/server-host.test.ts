/**
 * The simulator answers only requests addressed to this machine: it listens on a loopback address, and the URL it
 * gives SDK clients is one it answers.
 */
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

test('the URL of a simulator on another loopback address is one it answers', async () => {
  const simulator = await startSimulator({ host: '127.0.0.2' });
  try {
    expect(simulator.url).toBe(`http://127.0.0.2:${simulator.port}`);
    await expect(new SimulatorControl(simulator.url).clock()).resolves.toHaveProperty('now');
  } finally {
    await simulator.close();
  }
});
