/**
 * Where a simulator with a data directory keeps its state: one JSON file, `marketplace-simulator.json`, replaced
 * whole on every save (`ReplacedFile`), so that a crash leaves the previous state or the new one, never half of
 * either. A file that cannot be read as this format and version stops the start with a message naming it: starting
 * empty would silently forget what the seller's own stores (DynamoDB Local in the same directory) still remember.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
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

export const STATE_FILE_NAME = 'marketplace-simulator.json';

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

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, STATE_FILE_NAME);
    this.file = new ReplacedFile(this.path);
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
    return this.file.save(() => JSON.stringify(snapshot()));
  }
}
