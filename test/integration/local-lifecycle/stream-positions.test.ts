/**
 * The local stream poller with a data directory reads on, after a restart, from the last record it handed over before
 * it: a subscriber written while no poller ran (as in the instant before `npm start` is killed) is announced after the
 * restart, and nothing handed over before it is handed over again. A batch that fails as a whole is bisected, as the
 * deployed mapping's `bisectBatchOnError` does: only the record that keeps failing is set aside. A batch whose answer
 * names a failed record is retried from that record on, as Lambda retries a partial batch response, not bisected. A
 * record is retried until it is as old as the mapping's `maxRecordAge` by the clock given, and only then set aside; a
 * poller stopped while it retries leaves the record to the next start.
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test, vi } from 'vitest';
import { createLambdaContext } from '../../../local/lambda-context.ts';
import { startStreamPoller, type StreamPoller, type StreamPollerOptions } from '../../../local/stream-poller.ts';
import { StreamPositions } from '../../../local/stream-positions.ts';
import { useDynamoDb } from '../../support/dynamodb.ts';

const dynamoDb = useDynamoDb();
const directory = await mkdtemp(join(tmpdir(), 'stream-positions-'));
afterAll(() => rm(directory, { recursive: true, force: true }));

const keyOf = (record: DynamoDBStreamEvent['Records'][number]) => String(record.dynamodb?.Keys?.pk?.S);

const HOUR_MS = 3_600_000;

/** A clock that moves five hours each time it is read: a record's third delivery finds it past the 12 hours. */
function hurryingClock() {
  let now = Date.parse('2026-11-26T10:00:00Z');
  return { now: () => new Date((now += 5 * HOUR_MS)) };
}

async function poller(
  handled: string[],
  positions: StreamPositions | undefined,
  poisoned = 'SUBSCRIBER#never',
  failure: 'throws' | 'names it' = 'throws',
  options: Partial<StreamPollerOptions> = {},
): Promise<StreamPoller> {
  return startStreamPoller({
    dynamoDb: dynamoDb.client,
    endpoint: dynamoDb.endpoint,
    tableName: dynamoDb.tables.Subscribers,
    handler: (event: DynamoDBStreamEvent) => {
      const failed = event.Records.findIndex((record) => keyOf(record) === poisoned);
      if (failed === -1) {
        handled.push(...event.Records.map(keyOf));
        return Promise.resolve();
      }
      if (failure === 'throws') throw new Error(`cannot handle ${poisoned}`);
      handled.push(...event.Records.slice(0, failed).map(keyOf));
      const itemIdentifier = event.Records[failed]!.dynamodb!.SequenceNumber!;
      return Promise.resolve({ batchItemFailures: [{ itemIdentifier }] });
    },
    retryDelayMs: 10,
    maxRetryDelayMs: 10,
    clock: hurryingClock(),
    context: () => createLambdaContext('seller-notifier', 30_000, new Date()),
    pollIntervalMs: 20,
    ...(positions === undefined ? {} : { positions }),
    ...options,
  });
}

const write = (pk: string) =>
  dynamoDb.client.send(
    new PutItemCommand({ TableName: dynamoDb.tables.Subscribers, Item: { pk: { S: pk }, sk: { S: 'subscriber' } } }),
  );

test('a record written between two runs is handed over by the second; none is handed over twice', async () => {
  const first: string[] = [];
  const before = await poller(first, new StreamPositions(directory));
  await write('SUBSCRIBER#one');
  await write('SUBSCRIBER#two');
  await before.settled();
  await before.stop();
  expect(first).toEqual(['SUBSCRIBER#one', 'SUBSCRIBER#two']);

  await write('SUBSCRIBER#three');
  const second: string[] = [];
  const after = await poller(second, new StreamPositions(directory));
  await write('SUBSCRIBER#four');
  await after.settled();
  await after.stop();
  expect(second).toEqual(['SUBSCRIBER#three', 'SUBSCRIBER#four']);

  // Without the positions, a start reads from the stream's end: what was written before it is never handed over.
  await write('SUBSCRIBER#five');
  const unpositioned: string[] = [];
  const blind = await poller(unpositioned, undefined);
  await write('SUBSCRIBER#six');
  await blind.settled();
  await blind.stop();
  expect(unpositioned).toEqual(['SUBSCRIBER#six']);
});

/** Writes `keys` while no poller runs, so that the next one reads them in one batch; answers what it did with them. */
async function oneBatchOf(keys: string[], poisoned: string, failure: 'throws' | 'names it') {
  const positions = new StreamPositions(await mkdtemp(join(directory, 'batch-')));
  const before = await poller([], positions);
  await write(`SUBSCRIBER#before-${failure}`);
  await before.settled();
  await before.stop();
  for (const key of keys) await write(key);
  const handled: string[] = [];
  const stderr = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  const after = await poller(handled, positions, poisoned, failure);
  await after.settled();
  await after.stop();
  // Said on stderr by sequence number, as Lambda's on-failure message names records: the handler's log says whose.
  const sequenceNumbers = after.deadLetters.map((record) => record.dynamodb?.SequenceNumber).join(', ');
  expect(stderr).toHaveBeenCalledWith(expect.stringContaining(`set aside (sequence numbers ${sequenceNumbers})`));
  stderr.mockRestore();
  return { handled, setAside: after.deadLetters.map(keyOf) };
}

test('a batch that fails as a whole is bisected: only the record that keeps failing is set aside', async () => {
  const keys = ['SUBSCRIBER#b1', 'SUBSCRIBER#b2', 'SUBSCRIBER#b-poisoned', 'SUBSCRIBER#b3', 'SUBSCRIBER#b4'];
  expect(await oneBatchOf(keys, 'SUBSCRIBER#b-poisoned', 'throws')).toEqual({
    handled: keys.filter((key) => key !== 'SUBSCRIBER#b-poisoned'),
    setAside: ['SUBSCRIBER#b-poisoned'],
  });
});

test('a batch whose answer names a failed record is retried from it, not bisected: the records after it wait', async () => {
  const keys = ['SUBSCRIBER#p1', 'SUBSCRIBER#p2', 'SUBSCRIBER#p-poisoned', 'SUBSCRIBER#p3', 'SUBSCRIBER#p4'];
  expect(await oneBatchOf(keys, 'SUBSCRIBER#p-poisoned', 'names it')).toEqual({
    handled: ['SUBSCRIBER#p1', 'SUBSCRIBER#p2'],
    setAside: ['SUBSCRIBER#p-poisoned', 'SUBSCRIBER#p3', 'SUBSCRIBER#p4'],
  });
});

test('a record that fails for less than 12 hours is retried, not set aside, and goes out when the handler recovers', async () => {
  const positions = new StreamPositions(await mkdtemp(join(directory, 'outage-')));
  let failures = 0;
  const handled: string[] = [];
  // A bus that is down for 30 deliveries (minutes in AWS): the clock barely moves, so the record is never too old.
  const clock = { now: () => new Date(Date.parse('2026-11-26T10:00:00Z') + failures * 60_000) };
  const flaky = await startStreamPoller({
    dynamoDb: dynamoDb.client,
    endpoint: dynamoDb.endpoint,
    tableName: dynamoDb.tables.Subscribers,
    handler: (event: DynamoDBStreamEvent) => {
      if (failures < 30) {
        failures += 1;
        throw new Error('the bus is down');
      }
      handled.push(...event.Records.map(keyOf));
      return Promise.resolve();
    },
    retryDelayMs: 1,
    maxRetryDelayMs: 5,
    clock,
    context: () => createLambdaContext('seller-notifier', 30_000, new Date()),
    pollIntervalMs: 20,
    positions,
  });
  await write('SUBSCRIBER#outage');
  await flaky.settled();
  await flaky.stop();
  expect({ handled, setAside: flaky.deadLetters.map(keyOf), failures }).toEqual({
    handled: ['SUBSCRIBER#outage'],
    setAside: [],
    failures: 30,
  });
});

test('a poller stopped while it retries a record leaves it, and only what was not handled, to the next start', async () => {
  const positions = new StreamPositions(await mkdtemp(join(directory, 'stopped-')));
  const warmUp = await poller([], positions);
  await write('SUBSCRIBER#before-stop');
  await warmUp.settled();
  await warmUp.stop();
  // One batch: the outage begins at its third record.
  for (const key of ['SUBSCRIBER#s1', 'SUBSCRIBER#s2', 'SUBSCRIBER#s-down', 'SUBSCRIBER#s3']) await write(key);

  const handledBefore: string[] = [];
  let attempts = 0;
  const failing = await startStreamPoller({
    dynamoDb: dynamoDb.client,
    endpoint: dynamoDb.endpoint,
    tableName: dynamoDb.tables.Subscribers,
    handler: (event: DynamoDBStreamEvent) => {
      const down = event.Records.findIndex((record) => keyOf(record) === 'SUBSCRIBER#s-down');
      if (down === -1) return Promise.reject(new Error('a record after the outage began'));
      attempts += 1;
      handledBefore.push(...event.Records.slice(0, down).map(keyOf));
      return Promise.resolve({
        batchItemFailures: [{ itemIdentifier: event.Records[down]!.dynamodb!.SequenceNumber! }],
      });
    },
    // A pause far longer than the test: only the stop can end it.
    retryDelayMs: 10 * HOUR_MS,
    maxRetryDelayMs: 10 * HOUR_MS,
    context: () => createLambdaContext('seller-notifier', 30_000, new Date()),
    pollIntervalMs: 20,
    positions,
  });
  await vi.waitFor(() => expect(attempts).toBeGreaterThan(0), { timeout: 60_000, interval: 20 });
  // Written during the retry, and asked to be settled: a pass queued behind the stopped one must not read past it.
  await write('SUBSCRIBER#s-after');
  const settling = failing.settled();
  await failing.stop();
  await settling;
  expect({ handledBefore, setAside: failing.deadLetters }).toEqual({
    handledBefore: ['SUBSCRIBER#s1', 'SUBSCRIBER#s2'],
    setAside: [],
  });

  const handled: string[] = [];
  const next = await poller(handled, positions);
  await next.settled();
  await next.stop();
  expect(handled).toEqual(['SUBSCRIBER#s-down', 'SUBSCRIBER#s3', 'SUBSCRIBER#s-after']);
});
