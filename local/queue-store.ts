/**
 * Where the local queues keep their messages across restarts: one JSON file, `local-queues.json`, in the data
 * directory `npm start` keeps the tables and the simulator in, replaced whole on every change (`ReplacedFile`). SQS
 * keeps a message until it is deleted, whatever happens to its consumers; so does a local stack with a data directory:
 * a Marketplace notification or a webhook call still queued when the stack stops, or is killed, is delivered after the
 * restart, and dead letters can still be redriven.
 */
import type { SQSRecord } from 'aws-lambda';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ReplacedFile } from '../simulator/replaced-file.ts';
import { LocalStackError } from './errors.ts';

export const QUEUES_FILE_NAME = 'local-queues.json';
const FORMAT = 'local-queues';
const VERSION = 1;

/** A message not yet deleted: what SQS would still hold of it. */
export interface SavedMessage {
  readonly messageId: string;
  readonly body: string;
  readonly sentAt: number;
  readonly receiveCount: number;
  readonly firstReceivedAt?: number | undefined;
}

export interface QueueContents {
  readonly messages: readonly SavedMessage[];
  readonly deadLetters: readonly SQSRecord[];
}

const savedMessageSchema = z.object({
  messageId: z.string(),
  body: z.string(),
  sentAt: z.number(),
  receiveCount: z.number().int().nonnegative(),
  firstReceivedAt: z.number().optional(),
});

const queuesFileSchema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(VERSION),
  queues: z.record(
    z.string(),
    z.object({
      messages: z.array(savedMessageSchema),
      // As the queue set them aside, whole: a record is handed back to SQS's API as it was.
      deadLetters: z.array(z.custom<SQSRecord>((record) => typeof record === 'object' && record !== null)),
    }),
  ),
});

/** The queues file exists but cannot be taken up. */
export class LocalQueuesFileError extends LocalStackError {
  override readonly name = 'LocalQueuesFileError';

  constructor(
    readonly path: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`The local queues file ${path} ${reason}. Move it away (or delete it) to start with empty queues.`, options);
  }
}

export class LocalQueueStore {
  readonly path: string;
  private readonly file: ReplacedFile;
  private readonly queues: Record<string, QueueContents>;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, QUEUES_FILE_NAME);
    this.file = new ReplacedFile(this.path);
    this.queues = this.read();
  }

  /** What the queue named `name` held when it was last saved (empty when never). */
  contentsOf(name: string): QueueContents {
    return this.queues[name] ?? { messages: [], deadLetters: [] };
  }

  /** Records what the queue named `name` holds now; the promise settles once it is on disk. */
  save(name: string, contents: QueueContents): Promise<void> {
    this.queues[name] = contents;
    return this.file.save(() => JSON.stringify({ format: FORMAT, version: VERSION, queues: this.queues }));
  }

  /** Settles once every save so far is on disk. */
  flushed(): Promise<void> {
    return this.file.flushed();
  }

  private read(): Record<string, QueueContents> {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new LocalQueuesFileError(this.path, `cannot be read (${(error as Error).message})`, { cause: error });
    }
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (error) {
      throw new LocalQueuesFileError(this.path, 'is not valid JSON', { cause: error });
    }
    const parsed = queuesFileSchema.safeParse(document);
    if (!parsed.success) {
      throw new LocalQueuesFileError(this.path, `does not hold local queues:\n${z.prettifyError(parsed.error)}`);
    }
    return parsed.data.queues;
  }
}
