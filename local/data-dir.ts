/**
 * `npm start`'s data directory (`DYNAMODB_DATA_DIR`): the tables, the simulator's state and the local stack's own state
 * files, which only make sense together. One `npm start` holds it at a time (a lock file naming its pid): two would
 * each run DynamoDB Local on the same files and overwrite each other's simulator state. A lock left by a process that
 * is gone (`kill -9`) is taken over. A first start killed before it was ready is begun again.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lockDirectory } from '../simulator/directory-lock.ts';
import { refuseSimulatorDataDirInUse, STATE_FILE_NAME } from '../simulator/state-file.ts';
import { LocalStackError } from './errors.ts';
import { QUEUES_FILE_NAME } from './queue-store.ts';
import { RELAYED_EVENTS_FILE_NAME } from './relayed-events.ts';
import { STREAM_POSITIONS_FILE_NAME } from './stream-positions.ts';

export const DATA_DIR_LOCK_FILE_NAME = 'npm-start.lock';
/** What `npm start` runs (`package.json`), as a holder's command line names it. */
const START_SCRIPT = 'local/start.ts';
/** Where DynamoDB Local (`-sharedDb`) keeps every table. */
const TABLES_FILE_NAME = 'shared-local-instance.db';
/** Present from the start of a data directory's first `npm start` until that start is ready. */
export const FIRST_START_FILE_NAME = 'npm-start.first-start';
/** What a start keeps in the data directory. */
const STATE_FILE_NAMES = [
  TABLES_FILE_NAME,
  STATE_FILE_NAME,
  QUEUES_FILE_NAME,
  STREAM_POSITIONS_FILE_NAME,
  RELAYED_EVENTS_FILE_NAME,
] as const;

/** Another `npm start`, still running, holds the data directory. */
export class DataDirInUseError extends LocalStackError {
  override readonly name = 'DataDirInUseError';

  constructor(
    readonly dataDir: string,
    readonly holderPid: number,
    /** The lock the holder keeps: `npm-start.lock`, or the one it keeps while it takes a stale one over. */
    readonly lockPath: string = join(dataDir, DATA_DIR_LOCK_FILE_NAME),
  ) {
    const holder =
      holderPid === process.pid
        ? `This process (pid ${holderPid}) already runs a local stack that`
        : `Another npm start (pid ${holderPid})`;
    super(
      `${holder} is using the data directory ${dataDir}: stop it first, or give this one ` +
        "another DYNAMODB_DATA_DIR (two would overwrite each other's state). If no npm start is running, delete " +
        `${lockPath}.`,
    );
  }
}

/**
 * Takes the data directory for this process; answers the function that lets go of it.
 *
 * @throws DataDirInUseError when a running npm start holds it
 * @throws SimulatorDataDirInUseError when a simulator running on its own keeps its state there
 */
export function lockDataDir(dataDir: string): () => void {
  return lockDirectory(dataDir, {
    fileName: DATA_DIR_LOCK_FILE_NAME,
    isHolderCommand: (commandLine) => commandLine.includes(START_SCRIPT),
    inUse: (holderPid, lockPath) => new DataDirInUseError(dataDir, holderPid, lockPath),
    isUnfinishedSave: (name) => /\.\d+\.tmp$/.test(name),
    // A simulator of its own (`npm run simulator`) may keep its state there: its files must not be touched.
    refuseOtherHolders: () => refuseSimulatorDataDirInUse(dataDir),
  });
}

/** The data directory holds the tables without the simulator's state, or the other way round (a file deleted). */
export class IncompleteDataDirError extends LocalStackError {
  override readonly name = 'IncompleteDataDirError';
}

/**
 * Refuses a data directory with only one of its two halves: started so, the subscribers in the tables and the licenses
 * Marketplace bills them against would disagree, and usage accepted for them would be refused.
 *
 * @throws IncompleteDataDirError naming what is there and what is missing
 */
function checkDataDirComplete(dataDir: string): void {
  const tables = existsSync(join(dataDir, TABLES_FILE_NAME));
  const simulator = existsSync(join(dataDir, STATE_FILE_NAME));
  if (tables === simulator) return;
  const [present, missing] = tables
    ? [`the tables (${TABLES_FILE_NAME})`, `the simulator's state (${STATE_FILE_NAME})`]
    : [`the simulator's state (${STATE_FILE_NAME})`, `the tables (${TABLES_FILE_NAME})`];
  throw new IncompleteDataDirError(
    `The data directory ${dataDir} holds ${present} but not ${missing}: the subscribers and the licenses Marketplace ` +
      'bills them against would disagree. Restore the missing file, or move the folder away to start afresh.',
  );
}

/**
 * Readies a held data directory for a start, and answers whether it is the directory's first. A first start killed
 * before both halves were on disk (DynamoDB Local had made the tables' file, the simulator had not yet saved its state)
 * served no one, as every license lives in the simulator's state: its files are removed and the start is a first start
 * again, rather than refused for a missing half. One killed later left both halves, and is restarted like any other. A
 * first start calls `firstStartReady` once both halves are on disk; from then on a missing half is refused
 * (`checkDataDirComplete`).
 *
 * @throws IncompleteDataDirError when a directory that was ready has lost one of its halves
 */
export function prepareDataDir(dataDir: string, warn: (line: string) => void = console.error): { firstStart: boolean } {
  const marker = join(dataDir, FIRST_START_FILE_NAME);
  const hasBothHalves = () => existsSync(join(dataDir, TABLES_FILE_NAME)) && existsSync(join(dataDir, STATE_FILE_NAME));
  if (existsSync(marker)) {
    if (hasBothHalves()) {
      firstStartReady(dataDir);
      return { firstStart: false };
    }
    for (const name of STATE_FILE_NAMES) rmSync(join(dataDir, name), { force: true });
    warn(`npm start: the first start in ${dataDir} stopped before it was ready; starting it afresh`);
  }
  checkDataDirComplete(dataDir);
  if (hasBothHalves()) return { firstStart: false };
  writeFileSync(marker, '');
  return { firstStart: true };
}

/** A first start is ready, with both halves of the directory on disk: a later start restarts it, never afresh. */
export function firstStartReady(dataDir: string): void {
  rmSync(join(dataDir, FIRST_START_FILE_NAME), { force: true });
}
