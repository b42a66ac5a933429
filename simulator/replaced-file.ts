/**
 * A file replaced whole on every save: written to a temporary file, flushed, then renamed over the old one, so that a
 * crash leaves the previous content or the new one, never half of either. Saves that arrive while one is being written
 * share the one save after it, so a burst of changes costs two writes.
 */
import { readFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';

export class ReplacedFile {
  private inFlight: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;

  constructor(readonly path: string) {}

  /** Saves the text `content` gives, taken after this call: the promise settles once it is on disk. */
  save(content: () => string): Promise<void> {
    this.queued ??= this.inFlight.then(() => {
      this.queued = undefined;
      const write = this.write(content());
      this.inFlight = write.catch(() => undefined);
      return write;
    });
    return this.queued;
  }

  /**
   * The JSON document saved, or `undefined` when there is none yet; `refuse` makes the error for a file that cannot
   * be read or parsed (the reason, and the failure as its cause).
   */
  readJson(refuse: (reason: string, cause: unknown) => Error): unknown {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw refuse(`cannot be read (${(error as Error).message})`, error);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw refuse('is not valid JSON', error);
    }
  }

  /** Settles once every save asked for so far is on disk (or has failed). */
  async flushed(): Promise<void> {
    await (this.queued ?? this.inFlight).catch(() => undefined);
  }

  private async write(text: string): Promise<void> {
    const temporary = `${this.path}.${process.pid}.tmp`;
    const file = await open(temporary, 'w');
    try {
      await file.writeFile(text, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      await rename(temporary, this.path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }
}
