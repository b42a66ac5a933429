/**
 * How the operator commands find the running `npm start`: it records where its parts listen in a small JSON file
 * (`.local-stack.json` in the project folder, or the path `LOCAL_STACK_STATE` names) and removes it when it stops
 * cleanly. The file names its owner's pid, so a file left by a killed stack is recognised as stale.
 *
 * One stack owns the file at a time: a second `npm start` (another terminal, a test) leaves a live owner's file alone,
 * so the commands keep reaching the stack that was there first.
 */
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { projectRoot } from './config.ts';

export const STACK_STATE_VARIABLE = 'LOCAL_STACK_STATE';

const stackStateSchema = z.object({
  pid: z.number().int().positive(),
  startedAt: z.string(),
  apiUrl: z.string(),
  dynamoDbEndpoint: z.string(),
  marketplaceEndpoint: z.string(),
  sqsEndpoint: z.string(),
  eventBusUrl: z.string(),
  webhookReceiverUrl: z.string(),
  tables: z.object({ subscribers: z.string(), usage: z.string() }),
});

export type StackState = z.infer<typeof stackStateSchema>;

/** What looking for the running stack found: its state, or why there is none. */
export type StackLookup =
  | { readonly found: true; readonly state: StackState; readonly path: string }
  | { readonly found: false; readonly reason: string; readonly path: string };

export function stackStatePath(): string {
  return process.env[STACK_STATE_VARIABLE] || join(projectRoot, '.local-stack.json');
}

/**
 * Records `state` as the running stack's, unless another live stack owns the file. Answers the pid of that other
 * owner when there is one (nothing was written), `undefined` when the file is now `state`.
 */
export async function recordStackState(state: StackState): Promise<number | undefined> {
  const path = stackStatePath();
  const current = await lookUpStack(path);
  if (current.found && current.state.pid !== state.pid) return current.state.pid;
  await writeFile(path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  return undefined;
}

/** Removes the file if `pid` owns it (a second stack stopping must not hide the first). */
export async function forgetStackState(pid: number): Promise<void> {
  const path = stackStatePath();
  const current = await lookUpStack(path);
  if (current.found && current.state.pid === pid) await unlink(path).catch(() => undefined);
}

export async function lookUpStack(path = stackStatePath()): Promise<StackLookup> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return { found: false, reason: `no npm start has recorded itself in ${path}`, path };
  }
  const parsed = stackStateSchema.safeParse(parseJson(text));
  if (!parsed.success) return { found: false, reason: `${path} is not a state file npm start wrote`, path };
  if (!isAlive(parsed.data.pid)) {
    return { found: false, reason: `the npm start recorded in ${path} (pid ${parsed.data.pid}) is gone`, path };
  }
  return { found: true, state: parsed.data, path };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
