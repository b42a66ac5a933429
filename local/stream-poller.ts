/**
 * A DynamoDB stream event source, locally: reads a DynamoDB Local table's stream and invokes a stream handler with
 * the `DynamoDBStreamEvent` Lambda would give it, honouring partial batch responses as Lambda does (see
 * `batch-invocation.ts`; a stream batch is retried from its first failed record), bisecting a batch that failed as a
 * whole as the deployed mapping's `bisectBatchOnError` does, retrying what keeps failing until it is as old as the
 * mapping's `maxRecordAge` (holding the shard meanwhile, as Lambda does), and only then setting it aside as Lambda's
 * on-failure destination would. With `positions`, it reads on after the last record handled before a restart, rather
 * than from the stream's end.
 */
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { setTimeout as sleep } from 'node:timers/promises';
import { SELLER_NOTIFIER_STREAM } from '../contracts/index.ts';
import { systemClock, type Clock } from '../lambdas/core/clock.ts';
import { invokeBatchHandler } from './batch-invocation.ts';
import { LocalStackError } from './errors.ts';
import type { StreamPositions } from './stream-positions.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './local-aws.ts';

export type StreamHandler = (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse | void>;

export interface StreamPollerOptions {
  readonly dynamoDb: DynamoDBClient;
  readonly endpoint: string;
  readonly tableName: string;
  readonly handler: StreamHandler;
  readonly context: () => Context;
  /**
   * How long a failing record is retried before it is set aside, from its first delivery: the deployed mapping's
   * `maxRecordAge`, 12 hours. A seller's bus that is down for a while loses nothing here either.
   */
  readonly maxRecordAgeMs?: number;
  /** The time a record's age is read on: the stack's (the simulator's clock), so moving it ages the records too. */
  readonly clock?: Clock;
  readonly batchSize?: number;
  readonly pollIntervalMs?: number;
  /** The pause before the first retry of a failing batch, doubling to `maxRetryDelayMs`. */
  readonly retryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
  /** Where the poller has read up to, kept across restarts; unset, a start reads from the stream's end. */
  readonly positions?: StreamPositions;
  /** Settles once what the handler sent on is kept (a queue's store): a position is saved only after that. */
  readonly downstreamFlushed?: () => Promise<void>;
}

export interface StreamPoller {
  /** Records that kept failing for `maxRecordAgeMs`, as Lambda would send them to the on-failure destination. */
  readonly deadLetters: readonly DynamoDBRecord[];
  /** Resolves once every record written so far has been handed to the handler (or set aside). */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

export async function startStreamPoller(options: StreamPollerOptions): Promise<StreamPoller> {
  const { dynamoDb, tableName, handler } = options;
  const maxRecordAgeMs = options.maxRecordAgeMs ?? SELLER_NOTIFIER_STREAM.maxRecordAgeHours * 60 * 60_000;
  const clock = options.clock ?? systemClock;
  const batchSize = options.batchSize ?? SELLER_NOTIFIER_STREAM.batchSize;
  const pollIntervalMs = options.pollIntervalMs ?? 100;
  const retryDelayMs = options.retryDelayMs ?? 200;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 5_000;
  const streams = new DynamoDBStreamsClient({
    endpoint: options.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const { Table } = await dynamoDb.send(new DescribeTableCommand({ TableName: tableName }));
  const streamArn = Table?.LatestStreamArn;
  if (streamArn === undefined) throw new LocalStackError(`Table ${tableName} has no stream`);

  const deadLetters: DynamoDBRecord[] = [];
  const iterators = new Map<string, string | undefined>();
  /** The last record read of each shard, to read on from after it. */
  const lastRead = new Map<string, string>();
  /** Shards read again from their start, after a refused iterator, whose records from before this poller are skipped. */
  const rereadFromStart = new Set<string>();
  /** Shards whose iterator was refused and replaced, not read from since: refused again, the poller gives up. */
  const replaced = new Set<string>();
  // DynamoDB Local stamps stream records with its own wall clock, to the minute: not a time the stack runs on.
  const startedAtMinute = Math.floor(Date.now() / 60_000) * 60_000;
  let stopped = false;
  /** Cuts a retry's pause short when the poller stops: what was being retried is read again after a restart. */
  const stopping = new AbortController();

  // After what was handled before a restart, or else only what is written from now on: a local stack on a reused data
  // directory does not announce old registrations again (the deployed mapping starts at TRIM_HORIZON, as it starts
  // together with the table).
  await discoverShards('LATEST');

  async function discoverShards(position: 'LATEST' | 'TRIM_HORIZON'): Promise<void> {
    const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    for (const shard of StreamDescription?.Shards ?? []) {
      if (shard.ShardId === undefined || iterators.has(shard.ShardId)) continue;
      iterators.set(shard.ShardId, await firstIterator(shard.ShardId, position));
    }
  }

  /** Where a shard is first read from: after its last record handled before a restart, if it still has it. */
  async function firstIterator(shardId: string, position: 'LATEST' | 'TRIM_HORIZON'): Promise<string | undefined> {
    const handled = options.positions?.of(tableName, shardId);
    if (handled !== undefined) {
      try {
        const { ShardIterator } = await streams.send(
          new GetShardIteratorCommand({
            StreamArn: streamArn,
            ShardId: shardId,
            ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
            SequenceNumber: handled,
          }),
        );
        return ShardIterator;
      } catch (error) {
        console.error(`stream ${tableName}: cannot read on after record ${handled}; reading from ${position}`, error);
      }
    }
    const { ShardIterator } = await streams.send(
      new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shardId, ShardIteratorType: position }),
    );
    return ShardIterator;
  }

  /**
   * DynamoDB Local may refuse an iterator taken at `LATEST` of an empty stream once another table is created (the suite
   * shares one DynamoDB Local): read on after the last record read, or from the start, skipping what was written before
   * the minute this poller started in, as `LATEST` would have (records carry only the minute they were written in).
   */
  async function readOnAfterTrim(shardId: string): Promise<string | undefined> {
    const last = lastRead.get(shardId);
    if (last === undefined) rereadFromStart.add(shardId);
    const { ShardIterator } = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ...(last === undefined
          ? { ShardIteratorType: 'TRIM_HORIZON' }
          : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: last }),
      }),
    );
    return ShardIterator;
  }

  /** One pass over every open shard; answers whether it found records. */
  async function pollOnce(): Promise<boolean> {
    // A pass queued behind one the stop cut short must not read on past what that one left unhandled.
    if (stopped) return false;
    await discoverShards('TRIM_HORIZON');
    let found = false;
    for (const [shardId, iterator] of iterators) {
      if (stopped) return false;
      if (iterator === undefined) continue;
      let page;
      try {
        page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: batchSize }));
      } catch (error) {
        if (!(error instanceof TrimmedDataAccessException) || replaced.has(shardId)) throw error;
        iterators.set(shardId, await readOnAfterTrim(shardId));
        replaced.add(shardId);
        found = true;
        continue;
      }
      replaced.delete(shardId);
      const { Records = [], NextShardIterator } = page;
      iterators.set(shardId, NextShardIterator);
      const lastRecord = Records.at(-1)?.dynamodb?.SequenceNumber;
      if (lastRecord !== undefined) lastRead.set(shardId, lastRecord);
      const written = rereadFromStart.has(shardId)
        ? Records.filter(
            (record) => (record.dynamodb?.ApproximateCreationDateTime?.getTime() ?? Infinity) >= startedAtMinute,
          )
        : Records;
      if (written.length < Records.length) {
        console.error(
          `stream ${tableName}: ${Records.length - written.length} record(s) from before the start skipped`,
        );
      }
      if (Records.length > 0) found = true;
      const records = written.map((record) => toLambdaRecord(record, streamArn!));
      let handledThrough: string | undefined;
      const complete =
        records.length === 0 ||
        (await deliver(records, clock.now().getTime(), (record) => {
          handledThrough = record.dynamodb?.SequenceNumber;
        }));
      // Cut short by a stop, the batch's records up to the last one handled are not handed over again after a start.
      const through = complete ? lastRecord : handledThrough;
      if (through !== undefined && options.positions !== undefined) {
        await options.downstreamFlushed?.();
        await options.positions.handled(tableName, shardId, through);
      }
      if (!complete) return false;
    }
    return found;
  }

  /**
   * Hands `records` (first delivered at `since`, on the clock) to the handler until each succeeded or is set aside,
   * in order, telling `handled` of the last record done each time more are; answers `false` when the poller stopped
   * first, leaving the rest for the next start to read again.
   */
  async function deliver(
    records: DynamoDBRecord[],
    since: number,
    handled: (through: DynamoDBRecord) => void,
  ): Promise<boolean> {
    let pending = records;
    for (let retry = 0; pending.length > 0; retry++) {
      if (stopped) return false;
      const failure = await invoke(pending);
      if (failure === undefined) {
        handled(pending.at(-1)!);
        return true;
      }
      if (failure.from > 0) handled(pending[failure.from - 1]!);
      const remaining = pending.slice(failure.from);
      if (failure.wholeBatch && remaining.length > 1) {
        // As `bisectBatchOnError` does with a function error: split in two and each half delivered on its own, until
        // the record that fails is alone, so the records around it are neither held back nor set aside with it. A
        // partial batch response is not split: it is retried from the record it names, as Lambda retries it.
        const half = Math.ceil(remaining.length / 2);
        return (
          (await deliver(remaining.slice(0, half), since, handled)) && deliver(remaining.slice(half), since, handled)
        );
      }
      const age = clock.now().getTime() - since;
      if (age >= maxRecordAgeMs) {
        deadLetters.push(...remaining);
        // By sequence number, as Lambda's on-failure message names them: the handler's own log lines say whose.
        const sequenceNumbers = remaining.map((record) => record.dynamodb?.SequenceNumber).join(', ');
        console.error(
          `stream ${tableName}: ${remaining.length} record(s) failed for ${Math.round(age / 1000)} s; set aside ` +
            `(sequence numbers ${sequenceNumbers})`,
        );
        handled(remaining.at(-1)!);
        return true;
      }
      pending = remaining;
      const pause = doubled(retryDelayMs, retry, maxRetryDelayMs);
      const paused = await sleep(pause, true, { signal: stopping.signal }).catch(() => false);
      if (!paused) return false;
    }
    return true;
  }

  /**
   * Invokes the handler; answers the index to retry from and whether the whole batch failed, or `undefined` when the
   * whole batch succeeded.
   */
  async function invoke(records: DynamoDBRecord[]): Promise<{ from: number; wholeBatch: boolean } | undefined> {
    const sequenceNumbers = records.map((record) => record.dynamodb?.SequenceNumber ?? '');
    const { itemIds: failed, wholeBatch } = await invokeBatchHandler({
      handler,
      event: { Records: records },
      itemIds: sequenceNumbers,
      context: options.context(),
      source: `stream ${tableName}`,
    });
    // A stream is retried from its first failed record: the records before it are done.
    if (failed.size === 0) return undefined;
    return { from: sequenceNumbers.findIndex((sequenceNumber) => failed.has(sequenceNumber)), wholeBatch };
  }

  // Passes run one at a time, so a shard iterator is never used twice.
  let lastPass: Promise<boolean> = Promise.resolve(false);
  const runPass = (): Promise<boolean> => {
    lastPass = lastPass.catch(() => false).then(pollOnce);
    return lastPass;
  };

  const loop = (async () => {
    // A stream that cannot be read (DynamoDB Local gone, or busy) is said once per outage, not at every poll, and
    // polled less often while it lasts.
    let failedPolls = 0;
    while (!stopped) {
      const found = await runPass().then(
        (found) => {
          if (failedPolls > 0) console.error(`stream ${tableName}: polling again after ${failedPolls} failed poll(s)`);
          failedPolls = 0;
          return found;
        },
        (error: unknown) => {
          failedPolls++;
          if (!stopped && failedPolls === 1) console.error(`stream ${tableName}: polling failed`, error);
          return false;
        },
      );
      if (found) continue;
      const pause =
        failedPolls === 0
          ? pollIntervalMs
          : doubled(pollIntervalMs, failedPolls, Math.max(pollIntervalMs, maxRetryDelayMs));
      await sleep(pause, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  })();

  return {
    deadLetters,
    settled: async () => {
      while (await runPass());
    },
    stop: async () => {
      stopped = true;
      stopping.abort();
      await loop;
      streams.destroy();
    },
  };
}

function toLambdaRecord(record: StreamRecord, streamArn: string): DynamoDBRecord {
  const { dynamodb } = record;
  return {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion,
    eventSource: 'aws:dynamodb',
    awsRegion: record.awsRegion,
    eventSourceARN: streamArn,
    dynamodb: {
      ...(dynamodb?.ApproximateCreationDateTime === undefined
        ? {}
        : { ApproximateCreationDateTime: dynamodb.ApproximateCreationDateTime.getTime() / 1000 }),
      Keys: dynamodb?.Keys,
      NewImage: dynamodb?.NewImage && withEmptyMaps(dynamodb.NewImage),
      OldImage: dynamodb?.OldImage && withEmptyMaps(dynamodb.OldImage),
      SequenceNumber: dynamodb?.SequenceNumber,
      SizeBytes: dynamodb?.SizeBytes,
      StreamViewType: dynamodb?.StreamViewType,
    } as DynamoDBRecord['dynamodb'],
  };
}

type StreamImage = NonNullable<NonNullable<StreamRecord['dynamodb']>['NewImage']>;
type StreamValue = StreamImage[string];

/**
 * DynamoDB Local 3.x writes an empty map into a stream image as `{}`, without its `M` (it keeps `L` of an empty
 * list); DynamoDB's own streams, and so the records Lambda delivers in AWS, write `{"M":{}}`. Put the `M` back, so
 * that a handler meets what AWS would give it (`unmarshall` throws on `{}`).
 */
export function withEmptyMaps(image: StreamImage): StreamImage {
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, withEmptyMap(value)]));
}

function withEmptyMap(value: StreamValue): StreamValue {
  if (Object.keys(value).length === 0) return { M: {} };
  if (value.M !== undefined) return { M: withEmptyMaps(value.M) };
  if (value.L !== undefined) return { L: value.L.map(withEmptyMap) };
  return value;
}

/** `first` doubled `times` times, at most `ceiling` (the exponent bounded, so that a long outage never overflows). */
function doubled(first: number, times: number, ceiling: number): number {
  return Math.min(first * 2 ** Math.min(times, 20), ceiling);
}
