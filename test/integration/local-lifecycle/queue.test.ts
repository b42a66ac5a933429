/**
 * The local SQS queue and its event source mapping, against what Lambda documents for SQS: the `SQSEvent` it builds,
 * batch sizes, partial batch responses (only the named messages are retried; a throw, or an answer naming no message
 * of the batch, retries the whole batch), the visibility timeout, `ChangeMessageVisibility`, the redrive to the
 * dead-letter queue, `settled()`, `tried()` and `stop()`, and what a queue with a store keeps across restarts.
 */
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createHash } from 'node:crypto';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { startLocalQueue, type LocalQueue, type LocalQueueOptions } from '../../../local/queue.ts';
import { LocalQueueStore, QUEUES_FILE_NAME } from '../../../local/queue-store.ts';
import { scratchDirectory } from '../../support/scratch-directory.ts';

interface Invocation {
  readonly records: readonly SQSRecord[];
  readonly context: Context;
  readonly at: number;
}

const queues: LocalQueue[] = [];
afterEach(async () => {
  await Promise.all(queues.splice(0).map((queue) => queue.stop()));
  vi.restoreAllMocks();
});

/** A queue whose handler records each invocation and answers what `answer` makes of the batch. */
function queueWith(
  answer: (records: readonly SQSRecord[]) => SQSBatchResponse | void | Promise<SQSBatchResponse | void>,
  options: Partial<LocalQueueOptions> = {},
) {
  const invocations: Invocation[] = [];
  const queue = startLocalQueue({
    name: 'test-queue',
    functionName: 'test-function',
    handler: async (event: SQSEvent, context: Context) => {
      invocations.push({ records: event.Records, context, at: Date.now() });
      return answer(event.Records);
    },
    visibilityTimeoutMs: 50,
    ...options,
  });
  queues.push(queue);
  const receivesOf = (body: string) =>
    invocations.flatMap((invocation) => invocation.records).filter((record) => record.body === body);
  return { queue, invocations, receivesOf };
}

const failAll = (records: readonly SQSRecord[]) => ({
  batchItemFailures: records.map((record) => ({ itemIdentifier: record.messageId })),
});

describe('the event', () => {
  test('is the SQSEvent Lambda gives, with the function context', async () => {
    const { queue, invocations } = queueWith(() => undefined);
    const sentAt = Date.now();
    const messageId = queue.send('{"hello":"world"}');
    await queue.settled();

    const [invocation] = invocations;
    expect(invocation!.records).toEqual([
      {
        messageId,
        receiptHandle: expect.stringMatching(/^\S{16,}$/) as unknown,
        body: '{"hello":"world"}',
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: expect.stringMatching(/^\d{13}$/) as unknown,
          SenderId: expect.stringMatching(/^[A-Z0-9]+$/) as unknown,
          ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d{13}$/) as unknown,
        },
        messageAttributes: {},
        md5OfBody: createHash('md5').update('{"hello":"world"}').digest('hex'),
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:test-queue',
        awsRegion: 'us-east-1',
      },
    ]);
    expect(Number(invocation!.records[0]!.attributes.SentTimestamp)).toBeGreaterThanOrEqual(sentAt);
    expect(invocation!.context.functionName).toBe('test-function');
    expect(queue.arn).toBe('arn:aws:sqs:us-east-1:123456789012:test-queue');
  });

  test("stamps its times on the stack's clock, which handlers read as the time of what a message carries", async () => {
    const stackTime = new Date('2031-05-01T10:00:00.000Z');
    const { queue, invocations } = queueWith(() => undefined, { clock: { now: () => stackTime } });
    queue.send('dated');
    await queue.settled();
    expect(invocations[0]!.records[0]!.attributes).toMatchObject({
      SentTimestamp: String(stackTime.getTime()),
      ApproximateFirstReceiveTimestamp: String(stackTime.getTime()),
    });
  });

  test('holds at most the batch size, in the order sent', async () => {
    const { queue, invocations } = queueWith(() => undefined, { batchSize: 4 });
    const bodies = Array.from({ length: 10 }, (_, index) => `message ${index}`);
    for (const body of bodies) queue.send(body);
    await queue.settled();

    expect(invocations.map((invocation) => invocation.records.length)).toEqual([4, 4, 2]);
    expect(invocations.flatMap((invocation) => invocation.records.map((record) => record.body))).toEqual(bodies);
  });
});

describe('partial batch responses', () => {
  test('only the messages named are received again, with their receive count and first-receive time', async () => {
    let first = true;
    const { queue, receivesOf } = queueWith((records) => {
      const failed = first ? records.filter((record) => record.body.startsWith('fail')) : [];
      first = false;
      return { batchItemFailures: failed.map((record) => ({ itemIdentifier: record.messageId })) };
    });
    for (const body of ['ok 1', 'fail 1', 'ok 2', 'fail 2']) queue.send(body);
    await queue.settled();

    expect(['ok 1', 'fail 1', 'ok 2', 'fail 2'].map((body) => receivesOf(body).length)).toEqual([1, 2, 1, 2]);
    const [firstReceive, secondReceive] = receivesOf('fail 1');
    expect(secondReceive!.attributes.ApproximateReceiveCount).toBe('2');
    expect(secondReceive!.attributes.ApproximateFirstReceiveTimestamp).toBe(
      firstReceive!.attributes.ApproximateFirstReceiveTimestamp,
    );
    expect(secondReceive!.receiptHandle).not.toBe(firstReceive!.receiptHandle);
    expect(queue.deadLetters).toEqual([]);
  });

  const wholeBatchFailures: [string, (records: readonly SQSRecord[]) => SQSBatchResponse | void][] = [
    [
      'the handler throws',
      () => {
        throw new Error('boom');
      },
    ],
    [
      'a failure names no message of the batch',
      () => ({ batchItemFailures: [{ itemIdentifier: 'not-in-the-batch' }] }),
    ],
    ['a failure has an empty identifier', () => ({ batchItemFailures: [{ itemIdentifier: '' }] })],
    ['batchItemFailures is not a list', () => ({ batchItemFailures: 'all of them' }) as unknown as SQSBatchResponse],
  ];
  test.each(wholeBatchFailures)('the whole batch is received again when %s', async (_, firstAnswer) => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    let first = true;
    const { queue, receivesOf } = queueWith((records) => {
      if (!first) return undefined;
      first = false;
      return firstAnswer(records);
    });
    queue.send('a');
    queue.send('b');
    await queue.settled();

    expect([receivesOf('a').length, receivesOf('b').length]).toEqual([2, 2]);
  });

  test('an empty or absent list of failures, or no answer at all, deletes the batch', async () => {
    const answers: (SQSBatchResponse | void)[] = [{ batchItemFailures: [] }, {} as SQSBatchResponse, undefined];
    const { queue, invocations } = queueWith(() => answers.shift(), { batchSize: 1 });
    for (const body of ['a', 'b', 'c']) queue.send(body);
    await queue.settled();

    expect(invocations).toHaveLength(3);
  });
});

describe('retries', () => {
  test('a failed message stays invisible for the visibility timeout', async () => {
    const { queue, invocations } = queueWith((records) => (invocations.length === 1 ? failAll(records) : undefined), {
      visibilityTimeoutMs: 150,
    });
    queue.send('retry me');
    await queue.settled();

    expect(invocations).toHaveLength(2);
    expect(invocations[1]!.at - invocations[0]!.at).toBeGreaterThanOrEqual(150);
  });

  test('a deferral (ChangeMessageVisibility) replaces the visibility timeout, at the configured scale', async () => {
    const { queue, invocations } = queueWith(
      (records) => {
        if (invocations.length > 1) return undefined;
        queue.defer(records[0]!.receiptHandle, 30);
        return failAll(records);
      },
      { visibilityTimeoutMs: 10_000, deferralSecondMs: 5 },
    );
    queue.send('defer me');
    await queue.settled();

    const waited = invocations[1]!.at - invocations[0]!.at;
    // 30 s at 5 ms a second; a queue that ignored the deferral would have waited out the 10 s visibility timeout.
    // The upper bound sits just under that, so that a busy machine's delays cannot be mistaken for it.
    expect(waited).toBeGreaterThanOrEqual(150);
    expect(waited).toBeLessThan(9_000);
  });

  test('a deferral needs the receipt handle of a message being processed, and a visibility timeout SQS allows', async () => {
    const refusal = (defer: () => void) => {
      try {
        defer();
        return 'accepted';
      } catch (error) {
        return (error as Error).message;
      }
    };
    let handle = '';
    const whileProcessing: string[] = [];
    const { queue } = queueWith((records) => {
      handle = records[0]!.receiptHandle;
      whileProcessing.push(
        refusal(() => queue.defer(handle, 43_201)),
        refusal(() => queue.defer('not-a-handle', 1)),
      );
    });
    queue.send('once');
    await queue.settled();

    expect(whileProcessing).toEqual([
      expect.stringContaining('0-43200 seconds'),
      expect.stringContaining('no message in flight'),
    ]);
    expect(refusal(() => queue.defer(handle, 1))).toContain('no message in flight');
  });

  test('a message received maxReceiveCount times is set aside as a dead letter, and said so on stderr', async () => {
    const stderr = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const { queue, receivesOf } = queueWith(
      (records) => failAll(records.filter((record) => record.body === 'poison')),
      {
        maxReceiveCount: 3,
      },
    );
    const poison = queue.send('poison');
    queue.send('fine');
    await queue.settled();

    expect(receivesOf('poison')).toHaveLength(3);
    expect(receivesOf('fine')).toHaveLength(1);
    expect(queue.deadLetters).toEqual([
      expect.objectContaining({
        messageId: poison,
        body: 'poison',
        attributes: expect.objectContaining({ ApproximateReceiveCount: '3' }) as unknown,
      }),
    ]);
    expect(stderr).toHaveBeenCalledWith(`queue test-queue: message ${poison} was received 3 times; set aside`);
  });
});

describe('settled() and stop()', () => {
  test('settled() waits while a failed message waits out its visibility timeout, and resolves at once when empty', async () => {
    const { queue, invocations } = queueWith((records) => (invocations.length === 1 ? failAll(records) : undefined), {
      visibilityTimeoutMs: 200,
    });
    await queue.settled();
    queue.send('slow');
    const started = Date.now();
    await queue.settled();

    expect(invocations).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
  });

  test('tried() resolves once every message has been handed over once: a failed one waits for its retry, not tried()', async () => {
    const { queue, invocations } = queueWith(failAll, { visibilityTimeoutMs: 3_600_000 });
    await queue.tried();
    queue.send('first');
    queue.send('second');
    await queue.tried();
    expect(invocations.flatMap((invocation) => invocation.records.map((record) => record.body)).sort()).toEqual([
      'first',
      'second',
    ]);
    expect(queue.messageCount()).toBe(2);
    queue.send('third');
    await queue.tried();
    expect(invocations.at(-1)?.records.map((record) => record.body)).toEqual(['third']);
  });

  test('stop() lets the invocation in progress finish, then hands nothing more over and takes no more messages', async () => {
    let release: () => void = () => undefined;
    const { queue, invocations } = queueWith(() => new Promise<void>((resolve) => (release = resolve)), {
      batchSize: 1,
    });
    queue.send('first');
    queue.send('second');
    // vi.waitFor gives up after 1 s by default: too soon for a loaded machine.
    await vi.waitFor(() => expect(invocations).toHaveLength(1), { timeout: 30_000 });

    const stopped = queue.stop();
    release();
    await stopped;
    await queue.settled();

    expect(invocations).toHaveLength(1);
    expect(() => queue.send('late')).toThrow('stopped');
  });
});

describe('with a store', () => {
  // Removed after the queues are stopped: a queue still running may save into its store while it is being removed.
  const storeDirectory = () => scratchDirectory('local-queues-');

  test('a message not yet handled, and a dead letter, are taken up by the queue started again on the same store', async () => {
    const directory = await storeDirectory();
    let release: () => void = () => undefined;
    const first = queueWith(
      (records) =>
        records.some((record) => record.body === 'held')
          ? new Promise<void>((resolve) => (release = resolve))
          : failAll(records),
      { store: new LocalQueueStore(directory), maxReceiveCount: 1, batchSize: 1 },
    );
    first.queue.send('poison');
    await vi.waitFor(() => expect(first.queue.deadLetters).toHaveLength(1), { timeout: 30_000 });
    first.queue.send('held');
    first.queue.send('waiting');
    await vi.waitFor(() => expect(first.receivesOf('held')).toHaveLength(1), { timeout: 30_000 });

    // The process is killed while 'held' is in an invocation: what the file says then is all that is left.
    const file = join(directory, QUEUES_FILE_NAME);
    await vi.waitFor(
      async () => {
        const saved = JSON.parse(await readFile(file, 'utf8')) as {
          state: Record<string, { messages: { body: string; receiveCount: number }[]; deadLetters: SQSRecord[] }>;
        };
        expect(saved.state['test-queue']!.messages.map((message) => [message.body, message.receiveCount])).toEqual([
          ['held', 1],
          ['waiting', 0],
        ]);
        expect(saved.state['test-queue']!.deadLetters.map((record) => record.body)).toEqual(['poison']);
      },
      { timeout: 30_000 },
    );
    const restarted = await storeDirectory();
    await copyFile(file, join(restarted, QUEUES_FILE_NAME));
    release();

    const second = queueWith(() => undefined, { store: new LocalQueueStore(restarted) });
    await second.queue.settled();
    expect(second.invocations.flatMap((invocation) => invocation.records).map((record) => record.body)).toEqual([
      'held',
      'waiting',
    ]);
    expect(second.receivesOf('held')[0]!.attributes.ApproximateReceiveCount).toBe('2');
    expect(second.queue.deadLetters.map((record) => record.body)).toEqual(['poison']);

    // What the second queue handled is gone from the store; the redriven dead letter is handled too.
    expect(second.queue.redriveDeadLetters()).toBe(1);
    await second.queue.settled();
    expect(second.receivesOf('poison')).toHaveLength(1);
    await second.queue.stop();
    const third = queueWith(() => undefined, { store: new LocalQueueStore(restarted) });
    await third.queue.settled();
    expect(third.invocations).toEqual([]);
    expect(third.queue.deadLetters).toEqual([]);
  });

  test('a failed message waits out its deferral across a restart, as SQS keeps it: a restart uses up no attempt', async () => {
    const directory = await storeDirectory();
    // 30 s at 100 ms a second: 3 s.
    const deferral = { deferralSecondMs: 100, visibilityTimeoutMs: 60_000 };
    const first = queueWith(
      (records) => {
        first.queue.defer(records[0]!.receiptHandle, 30);
        return failAll(records);
      },
      { store: new LocalQueueStore(directory), ...deferral },
    );
    first.queue.send('retry later');
    await first.queue.tried();
    await first.queue.flushed();
    await first.queue.stop();

    const second = queueWith(() => undefined, { store: new LocalQueueStore(directory), ...deferral });
    await second.queue.settled();
    expect(second.receivesOf('retry later')).toHaveLength(1);
    // Deferred during the first invocation, so visible again no sooner than 3 s after it began.
    expect(second.invocations[0]!.at - first.invocations[0]!.at).toBeGreaterThanOrEqual(3_000);
    expect(second.receivesOf('retry later')[0]!.attributes.ApproximateReceiveCount).toBe('2');
  });

  test('a store file that is not one stops the start, naming the file', async () => {
    const directory = await storeDirectory();
    await writeFile(join(directory, QUEUES_FILE_NAME), '{"format":"something-else"}');
    expect(() => new LocalQueueStore(directory)).toThrow(
      `The local state file ${join(directory, QUEUES_FILE_NAME)} does not hold local-queues/1`,
    );
  });
});
