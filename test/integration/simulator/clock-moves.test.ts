/**
 * Moves of the simulator's clock through the control API while an embedder's `clockJumpHandler` (the local stack's
 * catch-up) stops it on the way: moves made at once add up, a reset overtakes a move under way, and a state saved
 * mid-move keeps the clock running on if the move would have, and each stop is saved before the embedder works there.
 */
import { readFile } from 'node:fs/promises';
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
  async (from, to, stopAt) => {
    for (let stop = from.getTime(); stop < to.getTime(); stop += HOUR_MS / 6) {
      await stopAt(new Date(stop));
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

test('each stop of a move is on disk before the embedder works there: a restart never takes up an earlier clock', async () => {
  const dataDir = await scratchDirectory('clock-moves-');
  const server = await startSimulator({ clock: { now: START, running: false }, dataDir });
  started.push(server);
  const savedAtStops: { stop: string; saved: string }[] = [];
  server.simulator.clockJumpHandler = async (from, to, stopAt) => {
    for (let stop = from.getTime() + HOUR_MS; stop <= to.getTime(); stop += HOUR_MS) {
      await stopAt(new Date(stop));
      const saved = JSON.parse(await readFile(join(dataDir, STATE_FILE_NAME), 'utf8')) as { clock: { now: string } };
      savedAtStops.push({ stop: new Date(stop).toISOString(), saved: saved.clock.now });
    }
  };
  await new SimulatorControl(server.url).advanceClock({ hours: 3 });
  expect(savedAtStops).toHaveLength(3);
  for (const { stop, saved } of savedAtStops) expect(saved).toBe(stop);
});
