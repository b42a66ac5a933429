/**
 * Where a simulator with a data directory keeps its state: one JSON file, `marketplace-simulator.json`, replaced
 * whole on every save (`ReplacedFile`), so that a crash leaves the previous state or the new one, never half of
 * either. A file that cannot be read as this format and version stops the start with a message naming it: starting
 * empty would silently forget what the seller's own stores (DynamoDB Local in the same directory) still remember.
 * One simulator at a time keeps its state in a directory (`marketplace-simulator.lock`): two would each answer for the
 * records they billed, and each save would forget what the other had saved.
 */
import { basename, join } from 'node:path';
import { z } from 'zod';
import {
  SNAPSHOT_FORMAT,
  SNAPSHOT_VERSION,
  snapshotSchema,
  type SimulatorSnapshot,
  type SimulatorSnapshotToSave,
} from './state-snapshot.ts';
import { SimulatorError } from './errors.ts';
import { ReplacedFile } from './replaced-file.ts';
import { lockDirectory, lockHolder, namesANonDirectory } from './directory-lock.ts';

export const STATE_FILE_NAME = 'marketplace-simulator.json';
export const STATE_LOCK_FILE_NAME = 'marketplace-simulator.lock';

/** The lock a simulator holds on its data directory; its holder is a Node process (embedders run anything). */
const SIMULATOR_LOCK = {
  fileName: STATE_LOCK_FILE_NAME,
  isHolderCommand: ([program = '']: readonly string[]) => basename(program).startsWith('node'),
};

/**
 * Refuses a data directory another simulator keeps its state in, before anything else touches it: `npm start` calls
 * it before it readies the directory, as its own simulator takes the lock only later.
 *
 * @throws SimulatorDataDirInUseError naming the holder
 */
export function refuseSimulatorDataDirInUse(dataDir: string): void {
  const holder = lockHolder(dataDir, SIMULATOR_LOCK);
  if (holder !== undefined) {
    throw new SimulatorDataDirInUseError(dataDir, holder, join(dataDir, STATE_LOCK_FILE_NAME));
  }
}

/** The data directory cannot be the simulator's: it is a file, or another simulator keeps its state there. */
export class SimulatorDataDirError extends SimulatorError {
  override readonly name: string = 'SimulatorDataDirError';

  constructor(
    readonly dataDir: string,
    message: string,
  ) {
    super(message);
  }
}

/** Another running simulator (or one already in this process) keeps its state in the data directory. */
export class SimulatorDataDirInUseError extends SimulatorDataDirError {
  override readonly name = 'SimulatorDataDirInUseError';

  constructor(dataDir: string, holderPid: number, lockPath: string) {
    const holder =
      holderPid === process.pid ? 'This process already runs a simulator that' : `Another simulator (pid ${holderPid})`;
    super(
      dataDir,
      `${holder} keeps its state in ${dataDir}: stop it first, or give this one another data directory (two would ` +
        `save over each other's state, and forget records they billed). If no simulator is running, delete ${lockPath}.`,
    );
  }
}

/** The state file exists but is not a state this simulator can take up. */
export class SimulatorStateFileError extends SimulatorError {
  override readonly name = 'SimulatorStateFileError';

  constructor(
    readonly path: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(
      `The simulator state file ${path} ${reason}. Move it away (or delete it) to start with an empty simulator.`,
      options,
    );
  }
}

export class SimulatorStateFile {
  readonly path: string;
  private readonly file: ReplacedFile;
  /** Lets go of the data directory: once the last save is on disk (`close`). */
  private readonly unlock: () => void;
  private closed = false;

  /**
   * Takes the data directory (making it if need be) for this simulator until `close`.
   *
   * @throws SimulatorDataDirError when it is a file, or another simulator holds it
   */
  constructor(dataDir: string) {
    if (namesANonDirectory(dataDir)) {
      throw new SimulatorDataDirError(dataDir, `The data directory ${dataDir} is a file: give the simulator a folder`);
    }
    this.path = join(dataDir, STATE_FILE_NAME);
    this.unlock = lockDirectory(dataDir, {
      ...SIMULATOR_LOCK,
      inUse: (holderPid, lockPath) => new SimulatorDataDirInUseError(dataDir, holderPid, lockPath),
      isUnfinishedSave: (name) => name.startsWith(`${STATE_FILE_NAME}.`) && name.endsWith('.tmp'),
    });
    this.file = new ReplacedFile(this.path);
  }

  /**
   * Lets go of the data directory once every save asked for is on disk (or has failed): another simulator may then
   * take it. A save asked for later writes nothing: the directory may be another's by then.
   */
  async close(): Promise<void> {
    this.closed = true;
    try {
      await this.file.flushed();
    } finally {
      this.unlock();
    }
  }

  /** The saved state, or `undefined` when nothing was saved yet. */
  load(): SimulatorSnapshot | undefined {
    const document = this.file.readJson((reason, cause) => new SimulatorStateFileError(this.path, reason, { cause }));
    if (document === undefined) return undefined;
    const { format, version } = (typeof document === 'object' && document !== null ? document : {}) as {
      format?: unknown;
      version?: unknown;
    };
    if (format !== SNAPSHOT_FORMAT) {
      throw new SimulatorStateFileError(this.path, `is not a simulator state (format ${JSON.stringify(format)})`);
    }
    if (version !== SNAPSHOT_VERSION) {
      throw new SimulatorStateFileError(
        this.path,
        `has format version ${JSON.stringify(version)}; this simulator reads version ${SNAPSHOT_VERSION}`,
      );
    }
    const parsed = snapshotSchema.safeParse(document);
    if (!parsed.success) {
      throw new SimulatorStateFileError(this.path, `does not hold a valid state:\n${z.prettifyError(parsed.error)}`);
    }
    return parsed.data;
  }

  /**
   * Saves the state `snapshot` gives, taken after this call: the promise settles once it is on disk. Calls that
   * arrive while a save is being written share the one save after it, so a burst of changes costs two writes.
   */
  save(snapshot: () => SimulatorSnapshotToSave): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.file.save(() => JSON.stringify(snapshot()));
  }
}
