/**
 * Moves of the simulator's clock through the control API while an embedder's `clockJumpHandler` (the local stack's
 * catch-up) stops it on the way: moves made at once add up, a reset overtakes a move under way, and a state saved
 * mid-move keeps the clock running on if the move would have, a stop is on disk before the embedder works there, a
 * stop that cannot be saved ends the move, and one whose work failed after its save is not left on disk.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { SimulatorControl } from '../../../simulator/control-client.ts';
import { startSimulator, type RunningSimulator } from '../../../simulator/server.ts';
import { STATE_FILE_NAME } from '../../../simulator/state-file.ts';
import type { ClockJumpHandler } from '../../../simulator/simulator.ts';
import { scratchDirectory } from '../../support/scratch-directory.ts';

const HOUR_MS = 3_600_000;
const START = new Date('2026-12-05T12:00:00.000Z');
const started: RunningSimulator[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((simulator) => simulator.close()));
});

/** A catch-up that stops every ten simulated minutes and lets real time pass at each stop, as running schedules do. */
const slowCatchUp =
  (stops: Date[]): ClockJumpHandler =>
  async (from, to, clockStops) => {
    for (let stop = from.getTime(); stop < to.getTime(); stop += HOUR_MS / 6) {
      await clockStops.at(new Date(stop));
      stops.push(new Date(stop));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

async function simulator(running: boolean, dataDir?: string) {
  const server = await startSimulator({
    clock: { now: START, running },
    ...(dataDir === undefined ? {} : { dataDir }),
  });
  started.push(server);
  const stops: Date[] = [];
  server.simulator.clockJumpHandler = slowCatchUp(stops);
  return { server, control: new SimulatorControl(server.url), stops };
}

test('two advances made at once add up, each from where the other left the clock, and it keeps running', async () => {
  const { control } = await simulator(true);
  const [first, second] = await Promise.all([control.advanceClock({ hours: 1 }), control.advanceClock({ hours: 1 })]);
  expect(first.running).toBe(true);
  expect(second.running).toBe(true);
  const now = Date.parse((await control.clock()).now);
  expect(now).toBeGreaterThanOrEqual(START.getTime() + 2 * HOUR_MS);
  expect(Date.parse(second.now)).toBeGreaterThan(Date.parse(first.now) + HOUR_MS - 1000);
});

test('a long move then a short one: the clock never goes back to where the first move had stopped', async () => {
  const { control } = await simulator(false);
  const [long, short] = await Promise.all([control.advanceClock({ hours: 6 }), control.advanceClock({ hours: 1 })]);
  expect(long.now).toBe(new Date(START.getTime() + 6 * HOUR_MS).toISOString());
  expect(short.now).toBe(new Date(START.getTime() + 7 * HOUR_MS).toISOString());
  const running = await control.setClock(new Date(START.getTime() + 8 * HOUR_MS), true);
  expect(running.running).toBe(true);
});

test('a reset overtakes a move under way: the clock is where the reset put it, and running', async () => {
  const { control, stops } = await simulator(false);
  const move = control.advanceClock({ hours: 30 });
  while (stops.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
  await control.reset();
  const answered = await move;
  const stopsAfterReset = stops.length;
  const clock = await control.clock();
  expect(clock.running).toBe(true);
  expect(Math.abs(Date.parse(clock.now) - Date.now())).toBeLessThan(60_000);
  expect(Math.abs(Date.parse(answered.now) - Date.now())).toBeLessThan(60_000);
  expect(stops.length).toBe(stopsAfterReset);
  expect(stopsAfterReset).toBeLessThan(30 * 6);
});

test('a state saved while a move stops the clock on the way keeps it running, if the move would', async () => {
  const dataDir = await scratchDirectory('clock-moves-');
  const { server, control, stops } = await simulator(true, dataDir);
  const move = control.advanceClock({ hours: 30 });
  while (stops.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
  await server.simulator.saveState();
  const saved = JSON.parse(await readFile(join(dataDir, STATE_FILE_NAME), 'utf8')) as {
    clock: { now: string; running: boolean };
  };
  expect(saved.clock.running).toBe(true);
  expect(Date.parse(saved.clock.now)).toBeLessThan(START.getTime() + 30 * HOUR_MS);
  await move;
});

/** The clock the simulator's state file holds. */
async function savedClock(dataDir: string): Promise<string> {
  return (JSON.parse(await readFile(join(dataDir, STATE_FILE_NAME), 'utf8')) as { clock: { now: string } }).clock.now;
}

test('a stop the embedder asks to be saved is on disk before it works there: a restart never takes up an earlier clock', async () => {
  const dataDir = await scratchDirectory('clock-moves-');
  const server = await startSimulator({ clock: { now: START, running: false }, dataDir });
  started.push(server);
  const seen: { stop: string; saved: string }[] = [];
  server.simulator.clockJumpHandler = async (from, to, clockStops) => {
    for (let stop = from.getTime() + HOUR_MS; stop <= to.getTime(); stop += HOUR_MS) {
      await clockStops.at(new Date(stop));
      await clockStops.saved();
      seen.push({ stop: new Date(stop).toISOString(), saved: await savedClock(dataDir) });
    }
  };
  await new SimulatorControl(server.url).advanceClock({ hours: 3 });
  expect(seen).toHaveLength(3);
  for (const { stop, saved } of seen) expect(saved).toBe(stop);
});

test('a stop that cannot be saved ends the move at the stop before, answered 500: moved again, it runs from there', async () => {
  const dataDir = await scratchDirectory('clock-moves-');
  const server = await startSimulator({ clock: { now: START, running: false }, dataDir });
  started.push(server);
  const statePath = join(dataDir, STATE_FILE_NAME);
  const worked: string[] = [];
  let broken = false;
  server.simulator.clockJumpHandler = async (from, to, clockStops) => {
    for (let stop = from.getTime() + HOUR_MS; stop <= to.getTime(); stop += HOUR_MS) {
      await clockStops.at(new Date(stop));
      // From the third stop on, a directory stands where the state file is replaced: every save fails.
      if (stop === START.getTime() + 3 * HOUR_MS && !broken) {
        broken = true;
        await rm(statePath);
        await mkdir(join(statePath, 'in-the-way'), { recursive: true });
      }
      await clockStops.saved();
      worked.push(new Date(stop).toISOString());
    }
  };
  const control = new SimulatorControl(server.url);
  await expect(control.advanceClock({ hours: 6 })).rejects.toThrow(
    /^StateNotSaved \(500\): The clock stopped at 2026-12-05T14:00:00\.000Z on its way: the simulator's state could not be saved at 2026-12-05T15:00:00\.000Z/,
  );
  expect(worked).toEqual([1, 2].map((hours) => new Date(START.getTime() + hours * HOUR_MS).toISOString()));
  // Saves work again once the way is clear: the clock is at the last stop whose work was done, and moved again, the
  // move does the failed stop's work, then goes on.
  await rm(statePath, { recursive: true });
  expect(await control.clock()).toEqual({ now: new Date(START.getTime() + 2 * HOUR_MS).toISOString(), running: false });
  await control.advanceClock({ hours: 2 });
  expect(worked).toEqual([1, 2, 3, 4].map((hours) => new Date(START.getTime() + hours * HOUR_MS).toISOString()));
});

test('a stop saved before its work failed is saved again where the move ended: a restart does not skip that work', async () => {
  const dataDir = await scratchDirectory('clock-moves-');
  const server = await startSimulator({ clock: { now: START, running: false }, dataDir });
  started.push(server);
  const failAt = START.getTime() + 3 * HOUR_MS;
  server.simulator.clockJumpHandler = async (from, to, clockStops) => {
    for (let stop = from.getTime() + HOUR_MS; stop <= to.getTime(); stop += HOUR_MS) {
      await clockStops.at(new Date(stop));
      await clockStops.saved();
      // The work there fails after the save (DynamoDB Local gone, say).
      if (stop === failAt) throw new Error('the work at this stop failed');
    }
  };
  await expect(new SimulatorControl(server.url).advanceClock({ hours: 6 })).rejects.toThrow();
  // On disk before anything else is asked (a control call saves the state as it answers).
  const movedBackTo = new Date(failAt - HOUR_MS).toISOString();
  expect(await savedClock(dataDir)).toBe(movedBackTo);
  expect(await new SimulatorControl(server.url).clock()).toEqual({ now: movedBackTo, running: false });
});
