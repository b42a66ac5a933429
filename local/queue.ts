/**
 * An SQS queue and its Lambda event source mapping, locally, in memory: messages sent to it are handed to an SQS batch
 * handler in the `SQSEvent` Lambda would give it, with partial batch responses honoured as Lambda honours them (see
 * `batch-invocation.ts`): a message that succeeded is deleted, a failed one becomes visible again after the visibility
 * timeout (or the deferral the handler asked for, as with `ChangeMessageVisibility`) and is received again, and a
 * message received `maxReceiveCount` times that is visible again is moved aside as a dead letter, as SQS's redrive
 * policy moves it to the dead-letter queue. Dead letters can be moved back (SQS's `StartMessageMoveTask`): each is sent
 * again as a new message and received from its first receive, as a redriven message is.
 *
 * Batches are handed over one at a time, and a visibility timeout runs from the end of the invocation, as if the
 * queue's timeout were long enough for the function's (AWS's advice): no message is ever in two invocations at once.
 *
 * With a store, every change is saved and a queue started again takes up what was saved: the messages, each visible
 * when it was to be (a failed one after its wait, which SQS keeps whatever happens to its consumers; one whose
 * invocation was cut short at once), and the dead letters.
 */
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../lambdas/core/clock.ts';
import { invokeBatchHandler } from './batch-invocation.ts';
import { createLambdaContext } from './lambda-context.ts';
import { LocalStackError } from './errors.ts';
import type { LocalQueueStore, SavedMessage } from './queue-store.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './local-aws.ts';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface LocalQueueOptions {
  /** The queue's name, in its ARN and the log lines. */
  readonly name: string;
  readonly handler: SqsHandler;
  /** The consuming function, for its invocation context. */
  readonly functionName: string;
  /** The function's timeout, for its invocation context. */
  readonly functionTimeoutMs?: number;
  /** At most this many messages per invocation (the event source mapping's batch size). */
  readonly batchSize?: number;
  /** How long a message that failed stays invisible before it is received again. */
  readonly visibilityTimeoutMs?: number;
  /** The redrive policy: receives of a message before it is set aside. */
  readonly maxReceiveCount?: number;
  /**
   * How long one second of a deferral lasts here: 1000 (the default) is real time; tests retry in milliseconds what
   * AWS retries in minutes.
   */
  readonly deferralSecondMs?: number;
  /** Where the messages are kept across restarts; unset, they are in memory only. */
  readonly store?: LocalQueueStore;
  /**
   * The clock of the times the queue stamps on a message (`SentTimestamp`, `ApproximateFirstReceiveTimestamp`), which
   * handlers read as the time of what it carries: the stack's clock (the simulator's), as in AWS the one clock is
   * everyone's. The queue's own waits (visibility, deferrals) run in real time. Default: the machine's.
   */
  readonly clock?: Clock;
}

export interface LocalQueue {
  readonly name: string;
  readonly arn: string;
  /** The redrive policy's receives before a message is set aside. */
  readonly maxReceiveCount: number;
  /** Messages received `maxReceiveCount` times that kept failing, as the dead-letter queue would hold them. */
  readonly deadLetters: readonly SQSRecord[];
  /** Enqueues a message (SQS `SendMessage`); answers its message id. */
  send(body: string): string;
  /** Messages neither deleted nor set aside yet, visible or not. */
  messageCount(): number;
  /** Settles once every change so far is saved in the store (at once without one). */
  flushed(): Promise<void>;
  /** Sends every dead letter again, oldest first, and forgets it as a dead letter; answers how many moved. */
  redriveDeadLetters(): number;
  /**
   * Makes the message received with `receiptHandle` visible again only after `seconds` (SQS
   * `ChangeMessageVisibility`, which a function calls while it holds the message).
   *
   * @throws when the handle is not that of a message being processed now, as SQS refuses it
   */
  defer(receiptHandle: string, seconds: number): void;
  /** Resolves once the queue is empty: every message sent so far deleted or set aside, none visible or in flight. */
  settled(): Promise<void>;
  /**
   * Resolves once every message in the queue has been handed to the function at least once and that invocation has
   * returned: what succeeds has been done, what fails waits for its retry.
   */
  tried(): Promise<void>;
  /**
   * Stops handing messages over, once the current invocation has returned; what is left in the queue is dropped, or,
   * with a store, kept there for the next start.
   */
  stop(): Promise<void>;
}

/** SQS's longest visibility timeout: 12 hours. */
const MAX_VISIBILITY_SECONDS = 43_200;
/** The `SenderId` of every local message: the sending principal's id, as SQS records it. */
const LOCAL_SENDER_ID = 'AIDAIENQZJOLO23YVJ4VO';

interface StoredMessage {
  readonly messageId: string;
  readonly body: string;
  readonly sentAt: number;
  firstReceivedAt?: number;
  receiveCount: number;
  /** When the message may be received again; undefined while the function holds it with no deferral asked for. */
  visibleAt: number | undefined;
  /** The handle of its latest receive. */
  receiptHandle: string;
  /** Whether a function holds the message now. */
  inFlight: boolean;
}

export function startLocalQueue(options: LocalQueueOptions): LocalQueue {
  return new InMemoryQueue(options);
}

/** The queue's messages, and the loop that hands them to the function one batch at a time. */
class InMemoryQueue implements LocalQueue {
  readonly name: string;
  readonly arn: string;
  readonly maxReceiveCount: number;
  readonly deadLetters: SQSRecord[] = [];
  private readonly batchSize: number;
  private readonly visibilityTimeoutMs: number;
  private readonly deferralSecondMs: number;
  private readonly clock: Clock;
  /** In the order sent, which is the order SQS tends to (but need not) hand messages out. */
  private readonly messages = new Map<string, StoredMessage>();
  private readonly emptyWaiters: (() => void)[] = [];
  private readonly triedWaiters: (() => void)[] = [];
  private stopped = false;
  /** Set once the last invocation has returned: from then on, nothing the queue drops is saved as handled. */
  private closed = false;
  private wake: (() => void) | undefined;
  private readonly loop: Promise<void>;

  constructor(private readonly options: LocalQueueOptions) {
    this.name = options.name;
    this.arn = `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${options.name}`;
    this.maxReceiveCount = options.maxReceiveCount ?? 5;
    this.batchSize = options.batchSize ?? 10;
    this.visibilityTimeoutMs = options.visibilityTimeoutMs ?? 30_000;
    this.deferralSecondMs = options.deferralSecondMs ?? 1000;
    this.clock = options.clock ?? systemClock;
    this.restore();
    this.loop = this.consume();
  }

  send(body: string): string {
    if (this.stopped) throw new LocalStackError(`queue ${this.name} is stopped`);
    const messageId = randomUUID();
    this.messages.set(messageId, {
      messageId,
      body,
      sentAt: this.clock.now().getTime(),
      receiveCount: 0,
      visibleAt: Date.now(),
      receiptHandle: '',
      inFlight: false,
    });
    this.persist();
    this.wake?.();
    return messageId;
  }

  messageCount(): number {
    return this.messages.size;
  }

  async flushed(): Promise<void> {
    await this.options.store?.flushed();
  }

  redriveDeadLetters(): number {
    if (this.stopped) throw new LocalStackError(`queue ${this.name} is stopped`);
    const moving = this.deadLetters.splice(0);
    for (const record of moving) this.send(record.body);
    return moving.length;
  }

  defer(receiptHandle: string, seconds: number): void {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_VISIBILITY_SECONDS) {
      throw new LocalStackError(`A visibility timeout is 0-${MAX_VISIBILITY_SECONDS} seconds, not ${seconds}`);
    }
    const message = [...this.messages.values()].find(
      (candidate) => candidate.inFlight && candidate.receiptHandle === receiptHandle,
    );
    if (message === undefined)
      throw new LocalStackError(`queue ${this.name}: no message in flight has this receipt handle`);
    message.visibleAt = Date.now() + seconds * this.deferralSecondMs;
  }

  settled(): Promise<void> {
    return this.messages.size === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => this.emptyWaiters.push(resolve));
  }

  tried(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.triedWaiters.push(resolve);
      this.releaseTriedWaiters();
    });
  }

  private releaseTriedWaiters(): void {
    const untried = [...this.messages.values()].some((message) => message.receiveCount === 0 || message.inFlight);
    if (!untried) this.triedWaiters.splice(0).forEach((resolve) => resolve());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    this.closed = true;
    await this.options.store?.flushed();
    [...this.messages.values()].forEach((message) => this.remove(message));
  }

  private async consume(): Promise<void> {
    while (!this.stopped) {
      const now = Date.now();
      const batch = this.receiveBatch(now);
      if (batch.length > 0) await this.deliver(batch);
      else await this.idle(now);
    }
  }

  /** Sets aside what has used up its receives; answers the next batch of visible messages, received. */
  private receiveBatch(now: number): StoredMessage[] {
    const batch: StoredMessage[] = [];
    for (const message of this.messages.values()) {
      if (message.visibleAt === undefined || message.visibleAt > now) continue;
      if (message.receiveCount >= this.maxReceiveCount) {
        this.setAside(message);
        continue;
      }
      if (batch.length < this.batchSize) batch.push(message);
    }
    for (const message of batch) {
      message.receiveCount++;
      message.firstReceivedAt ??= this.clock.now().getTime();
      message.visibleAt = undefined;
      message.receiptHandle = randomBytes(24).toString('base64');
      message.inFlight = true;
    }
    if (batch.length > 0) this.persist();
    return batch;
  }

  /** As SQS's redrive policy moves a message to the dead-letter queue. */
  private setAside(message: StoredMessage): void {
    this.deadLetters.push(this.toRecord(message));
    console.error(
      `queue ${this.name}: message ${message.messageId} was received ${message.receiveCount} times; set aside`,
    );
    this.remove(message);
  }

  private async deliver(batch: readonly StoredMessage[]): Promise<void> {
    const { itemIds: failed } = await invokeBatchHandler({
      handler: this.options.handler,
      event: { Records: batch.map((message) => this.toRecord(message)) },
      itemIds: batch.map((message) => message.messageId),
      context: createLambdaContext(this.options.functionName, this.options.functionTimeoutMs ?? 30_000, new Date()),
      source: `queue ${this.name}`,
    });
    const finishedAt = Date.now();
    for (const message of batch) {
      message.inFlight = false;
      if (failed.has(message.messageId)) message.visibleAt ??= finishedAt + this.visibilityTimeoutMs;
      else this.remove(message);
    }
    // A failed message's wait is saved, so that a restart does not cut it short.
    if (batch.some((message) => failed.has(message.messageId))) this.persist();
    this.releaseTriedWaiters();
  }

  /** Until `stop()` or the next message, or until the earliest invisible message becomes visible again. */
  private async idle(now: number): Promise<void> {
    const times = [...this.messages.values()].flatMap((message) =>
      message.visibleAt === undefined ? [] : [message.visibleAt],
    );
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      if (times.length > 0) timer = setTimeout(resolve, Math.max(0, Math.min(...times) - now));
    });
    clearTimeout(timer);
    this.wake = undefined;
  }

  private remove(message: StoredMessage): void {
    this.messages.delete(message.messageId);
    this.persist();
    if (this.messages.size === 0) this.emptyWaiters.splice(0).forEach((resolve) => resolve());
    this.releaseTriedWaiters();
  }

  /** Takes up what the store kept of this queue. */
  private restore(): void {
    const saved = this.options.store?.contentsOf(this.name);
    if (saved === undefined) return;
    const now = Date.now();
    for (const message of saved.messages) {
      const visibleAt = Math.max(now, message.visibleAt ?? now);
      this.messages.set(message.messageId, { ...message, visibleAt, receiptHandle: '', inFlight: false });
    }
    this.deadLetters.push(...saved.deadLetters);
  }

  /** Saves what the queue holds now, when it has a store and has not been stopped. */
  private persist(): void {
    const { store } = this.options;
    if (store === undefined || this.closed) return;
    const messages = [...this.messages.values()].map(
      ({ messageId, body, sentAt, receiveCount, firstReceivedAt, visibleAt }): SavedMessage => ({
        messageId,
        body,
        sentAt,
        receiveCount,
        firstReceivedAt,
        visibleAt,
      }),
    );
    store.save(this.name, { messages, deadLetters: [...this.deadLetters] }).catch((error: unknown) => {
      console.error(`queue ${this.name}: its messages could not be saved to ${store.path}`, error);
    });
  }

  private toRecord(message: StoredMessage): SQSRecord {
    return {
      messageId: message.messageId,
      receiptHandle: message.receiptHandle,
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.receiveCount),
        SentTimestamp: String(message.sentAt),
        SenderId: LOCAL_SENDER_ID,
        ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt),
      },
      messageAttributes: {},
      md5OfBody: createHash('md5').update(message.body).digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: this.arn,
      awsRegion: LOCAL_REGION,
    };
  }
}
