/**
 * Where the local queues keep their messages across restarts: `local-queues.json` in the data directory `npm start`
 * keeps the tables and the simulator in (`SavedState`). SQS keeps a message until it is deleted, whatever happens to
 * its consumers; so does a local stack with a data directory: a Marketplace notification or a webhook call still
 * queued when the stack stops, or is killed, is delivered after the restart, and dead letters can still be redriven.
 */
import type { SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { SavedState } from './saved-state.ts';

export const QUEUES_FILE_NAME = 'local-queues.json';

/** A message not yet deleted: what SQS would still hold of it. */
export interface SavedMessage {
  readonly messageId: string;
  readonly body: string;
  readonly sentAt: number;
  readonly receiveCount: number;
  readonly firstReceivedAt?: number | undefined;
  /**
   * When a failed message may be received again, on the machine's clock (the queue's waits run in real time); none
   * for a message in an invocation, which is received again at once.
   */
  readonly visibleAt?: number | undefined;
}

export interface QueueContents {
  readonly messages: readonly SavedMessage[];
  readonly deadLetters: readonly SQSRecord[];
}

const queuesSchema = z.record(
  z.string(),
  z.object({
    messages: z.array(
      z.object({
        messageId: z.string(),
        body: z.string(),
        sentAt: z.number(),
        receiveCount: z.number().int().nonnegative(),
        firstReceivedAt: z.number().optional(),
        visibleAt: z.number().optional(),
      }),
    ),
    // As the queue set them aside, whole: a record is handed back to SQS's API as it was.
    deadLetters: z.array(z.custom<SQSRecord>((record) => typeof record === 'object' && record !== null)),
  }),
);

export class LocalQueueStore {
  private readonly state: SavedState<Record<string, QueueContents>>;
  private readonly queues: Record<string, QueueContents>;

  constructor(dataDir: string) {
    this.state = new SavedState(dataDir, QUEUES_FILE_NAME, 'local-queues/1', queuesSchema);
    this.queues = this.state.load() ?? {};
  }

  get path(): string {
    return this.state.path;
  }

  /** What the queue named `name` held when it was last saved (empty when never). */
  contentsOf(name: string): QueueContents {
    return this.queues[name] ?? { messages: [], deadLetters: [] };
  }

  /** Records what the queue named `name` holds now; the promise settles once it is on disk. */
  save(name: string, contents: QueueContents): Promise<void> {
    this.queues[name] = contents;
    return this.state.save(() => this.queues);
  }

  /** Settles once every save so far is on disk. */
  flushed(): Promise<void> {
    return this.state.flushed();
  }
}
