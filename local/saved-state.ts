/**
 * The local stack's own state files in the data directory (the queues' messages, the stream's read positions): each one
 * JSON document with a `format` naming what it holds and its version, replaced whole on every save (`ReplacedFile`).
 * A file that cannot be read as what it should be stops the start with a message naming it: starting empty would
 * silently forget what the tables beside it still remember.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ReplacedFile } from '../simulator/replaced-file.ts';
import { LocalStackError } from './errors.ts';

/** A state file exists but cannot be taken up. */
export class LocalStateFileError extends LocalStackError {
  override readonly name = 'LocalStateFileError';

  constructor(
    readonly path: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`The local state file ${path} ${reason}. Move it away (or delete it) to start without it.`, options);
  }
}

export class SavedState<T> {
  readonly path: string;
  private readonly file: ReplacedFile;

  constructor(
    dataDir: string,
    fileName: string,
    private readonly format: string,
    private readonly schema: z.ZodType<T>,
  ) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, fileName);
    this.file = new ReplacedFile(this.path);
  }

  /** What was saved, or `undefined` when nothing was yet. */
  load(): T | undefined {
    const document = this.file.readJson((reason, cause) => new LocalStateFileError(this.path, reason, { cause }));
    if (document === undefined) return undefined;
    const parsed = z.object({ format: z.literal(this.format), state: this.schema }).safeParse(document);
    if (!parsed.success) {
      throw new LocalStateFileError(this.path, `does not hold ${this.format}:\n${z.prettifyError(parsed.error)}`);
    }
    return parsed.data.state;
  }

  /** Saves the state `state` gives, taken after this call; the promise settles once it is on disk. */
  save(state: () => T): Promise<void> {
    return this.file.save(() => JSON.stringify({ format: this.format, state: state() }));
  }

  /** Settles once every save so far is on disk (or has failed). */
  flushed(): Promise<void> {
    return this.file.flushed();
  }
}
