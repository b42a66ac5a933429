/**
 * What the metering benchmarks share: the machine line, DynamoDB requests counted (and, on request, the capacity they
 * consume), a simulator in its own process or in this one, and fast setup of many subscribers and buckets: licenses
 * through the simulator's control API with bounded concurrency, items through `BatchWriteItem`, shaped exactly as
 * the lifecycle and the recorder write them (each benchmark checks one item of each against the real writer).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { arch, cpus, loadavg, platform, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { forEachConcurrently } from '../lambdas/core/metering/run/index.ts';
import { bucketKey, pendingShardOf } from '../lambdas/core/metering/bucket/index.ts';
import { subscriberIdOf } from '../lambdas/core/subscriber.ts';
import { liveShardOf, subscriberKey } from '../lambdas/core/table-keys.ts';
import { fastStartJvmFlags } from '../local/dynamodb/launcher.ts';
import type { LicenseView, SimulatorControl } from '../simulator/control-client.ts';
import { startSimulator } from '../simulator/server.ts';
import { startLocalSimulatorProcess } from './simulator-process.ts';
import { PENDING_INDEX, TABLE_KEY } from '../contracts/index.ts';

/** The 1-minute load average: other work on the machine skews every figure here, DynamoDB Local's most. */
export function loadLine(): string {
  return `load average (1 min) ${fixed(loadavg()[0] ?? 0)} on ${cpus().length} CPUs`;
}

export function machineLine(): string {
  const cores = cpus();
  return (
    `Node ${process.version}, ${cores.length} CPUs (${cores[0]?.model.trim() ?? 'unknown'}), ` +
    `${(totalmem() / 2 ** 30).toFixed(1)} GiB, ${platform()} ${arch()}; ` +
    `DynamoDB Local in memory with the launcher's JVM flags (${fastStartJvmFlags.join(' ')})`
  );
}

/** The document client the functions use (`lambdas/core/aws-clients.ts`), on a client the benchmark made. */
export function documentClientOn(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

// ---------------------------------------------------------------------------------------------------------------------
// DynamoDB requests and consumed capacity

export interface OperationTally {
  requests: number;
  /** Requests that failed (DynamoDB reports no consumed capacity for them). */
  failed: number;
  /**
   * Capacity units, table and indexes together: as DynamoDB Local reports them, except for `TransactWriteItems`,
   * whose report does not grow with the items (see {@link transactionCapacity}): counted from its items instead.
   */
  capacity: number;
  /** Of which on the base tables. */
  tableCapacity: number;
  /** Of which on global secondary indexes. */
  indexCapacity: number;
  /** What DynamoDB Local itself reported, `TransactWriteItems` included. */
  reportedCapacity: number;
  /** Keys a `BatchGetItem` asked for, found or not. */
  keysRead: number;
  /** Items a `BatchGetItem` found. */
  itemsFound: number;
}

const emptyTally = (): OperationTally => ({
  requests: 0,
  failed: 0,
  capacity: 0,
  tableCapacity: 0,
  indexCapacity: 0,
  reportedCapacity: 0,
  keysRead: 0,
  itemsFound: 0,
});

/**
 * What a `TransactWriteItems` of small items (under 1 KB each, which the benchmark checks) costs by DynamoDB's rule
 * for transactional writes, 2 WCU per item-KB, plus, for an item that enters the `pending` index with this write, the
 * index write, 2 as DynamoDB Local reports for a one-item transaction. An item already in the index whose index keys
 * the write leaves as they are costs the index nothing (DynamoDB Local reports no index capacity then, for plain and
 * transactional writes alike). DynamoDB Local reports the cost of one item per table, however many the transaction
 * writes (a 10-item transaction reports what a 1-item one does), so its figure is not used, except to tell whether any
 * item entered the index: which ones did is told by `indexed`, the keys this tally has seen written with index keys.
 */
export function transactionCapacity(
  input: Record<string, unknown>,
  reportedIndexCapacity: number,
  indexed: Set<string>,
): { table: number; index: number } {
  let table = 0;
  let index = 0;
  for (const item of (input.TransactItems ?? []) as Record<string, Record<string, unknown>>[]) {
    const { Put, Update, Delete } = item;
    if (Put === undefined && Update === undefined && Delete === undefined) continue;
    table += 2;
    const names = Object.values((Update?.ExpressionAttributeNames ?? {}) as Record<string, string>);
    const putItem = (Put?.Item ?? {}) as Record<string, unknown>;
    if (!names.includes(PENDING_INDEX.partitionKey) && putItem[PENDING_INDEX.partitionKey] === undefined) continue;
    const key = JSON.stringify(Update?.Key ?? [putItem[TABLE_KEY.partitionKey], putItem[TABLE_KEY.sortKey]]);
    if (reportedIndexCapacity > 0 && !indexed.has(key)) index += 2;
    indexed.add(key);
  }
  return { table, index };
}

export interface DynamoDbTally {
  readonly byOperation: Map<string, OperationTally>;
  /** Request start times (performance.now()), by operation, when `timeline` was asked for. */
  readonly timeline: Map<string, number[]>;
  reset(): void;
  totals(filter?: (operation: string) => boolean): OperationTally;
}

/** The operations that read: their capacity is read capacity; every other operation's is write capacity. */
export const READ_COMMANDS: ReadonlySet<string> = new Set([
  'GetItemCommand',
  'BatchGetItemCommand',
  'QueryCommand',
  'ScanCommand',
  'TransactGetItemsCommand',
]);

const DATA_PLANE_COMMANDS: ReadonlySet<string> = new Set([
  ...READ_COMMANDS,
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchWriteItemCommand',
  'TransactWriteItemsCommand',
]);

interface ConsumedCapacityView {
  readonly CapacityUnits?: number;
  readonly Table?: { readonly CapacityUnits?: number };
  readonly GlobalSecondaryIndexes?: Record<string, { readonly CapacityUnits?: number }>;
  readonly LocalSecondaryIndexes?: Record<string, { readonly CapacityUnits?: number }>;
}

/**
 * Counts every data-plane request the document client sends, by operation (the low-level command's name plus what
 * `label` says about its input). With `consumedCapacity`, it also sets `ReturnConsumedCapacity: 'INDEXES'` on every
 * data-plane request (the code under test asks for none; `INDEXES` is `TOTAL` broken down by table and index) and
 * sums the `ConsumedCapacity` of the answers, except for `TransactWriteItems` (see {@link transactionCapacity}).
 * Asking changes what DynamoDB returns, never what it does.
 */
export function tallyDynamoDb(
  client: DynamoDBDocumentClient,
  options: {
    readonly consumedCapacity: boolean;
    readonly timeline?: boolean;
    readonly label?: (command: string, input: Record<string, unknown>) => string;
  },
): DynamoDbTally {
  const byOperation = new Map<string, OperationTally>();
  const timeline = new Map<string, number[]>();
  const indexed = new Set<string>();
  const entry = (operation: string): OperationTally => {
    let tally = byOperation.get(operation);
    if (tally === undefined) {
      tally = emptyTally();
      byOperation.set(operation, tally);
    }
    return tally;
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String(context.commandName);
      if (!DATA_PLANE_COMMANDS.has(command)) return next(args);
      const input = args.input as Record<string, unknown>;
      const operation = options.label?.(command, input) ?? command.replace(/Command$/, '');
      const tally = entry(operation);
      tally.requests++;
      if (options.timeline) {
        const starts = timeline.get(operation) ?? [];
        starts.push(performance.now());
        timeline.set(operation, starts);
      }
      if (options.consumedCapacity) input.ReturnConsumedCapacity = 'INDEXES';
      let result: Awaited<ReturnType<typeof next>>;
      try {
        result = await next(args);
      } catch (error) {
        tally.failed++;
        throw error;
      }
      const output = result.output as {
        ConsumedCapacity?: ConsumedCapacityView | ConsumedCapacityView[];
        Responses?: Record<string, unknown[]>;
      };
      if (command === 'BatchGetItemCommand') {
        for (const request of Object.values((input.RequestItems ?? {}) as Record<string, { Keys?: unknown[] }>)) {
          tally.keysRead += request.Keys?.length ?? 0;
        }
        for (const items of Object.values(output.Responses ?? {})) tally.itemsFound += items.length;
      }
      if (!options.consumedCapacity) return result;
      const consumed = output.ConsumedCapacity;
      let table = 0;
      let index = 0;
      for (const capacity of consumed === undefined ? [] : Array.isArray(consumed) ? consumed : [consumed]) {
        tally.reportedCapacity += capacity.CapacityUnits ?? 0;
        table += capacity.Table?.CapacityUnits ?? 0;
        for (const indexCapacity of [
          ...Object.values(capacity.GlobalSecondaryIndexes ?? {}),
          ...Object.values(capacity.LocalSecondaryIndexes ?? {}),
        ]) {
          index += indexCapacity.CapacityUnits ?? 0;
        }
      }
      if (command === 'TransactWriteItemsCommand') ({ table, index } = transactionCapacity(input, index, indexed));
      tally.tableCapacity += table;
      tally.indexCapacity += index;
      tally.capacity += table + index;
      return result;
    },
    // Before the document client's marshalling, which leaves a top-level `ReturnConsumedCapacity` as it is.
    { step: 'initialize', priority: 'high', name: 'benchDynamoDbTally' },
  );
  return {
    byOperation,
    timeline,
    reset: () => {
      byOperation.clear();
      timeline.clear();
    },
    totals: (filter = () => true) => {
      const sum = emptyTally();
      for (const [operation, tally] of byOperation) {
        if (!filter(operation)) continue;
        for (const key of Object.keys(sum) as (keyof OperationTally)[]) sum[key] += tally[key];
      }
      return sum;
    },
  };
}

/** Names the metering run's and the recorder's requests by what they do, from their input. */
export function meteringOperationLabel(command: string, input: Record<string, unknown>): string {
  const name = command.replace(/Command$/, '');
  const expression = typeof input.UpdateExpression === 'string' ? input.UpdateExpression : '';
  const values = (input.ExpressionAttributeValues ?? {}) as Record<string, unknown>;
  switch (command) {
    case 'QueryCommand':
      return `Query ${typeof input.IndexName === 'string' ? `index ${input.IndexName}` : 'table'}`;
    case 'GetItemCommand':
      return `GetItem ${String(input.TableName)}`;
    case 'UpdateItemCommand':
      if (expression.includes('#frozenAt = :now')) return 'UpdateItem freeze';
      if (values[':zero'] === 0) return 'UpdateItem zero-usage bucket';
      if (values[':state'] === 'billed') return 'UpdateItem settle billed';
      if (values[':state'] === 'rejected') return 'UpdateItem settle rejected';
      if (values[':expired'] === 'expired' && expression.includes(':reason')) return 'UpdateItem expire';
      return `UpdateItem ${String(input.TableName)}`;
    default:
      return name;
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// The simulator

export type SimulatorMode = 'process' | 'in-process';

export interface BenchSimulator {
  readonly url: string;
  readonly mode: SimulatorMode;
  stop(): Promise<void>;
}

/**
 * The simulator in its own process (the default: its TPS window and its answers are not held up by the benchmark's
 * own work on one event loop, as Marketplace's are not), or in this one (`startSimulator`).
 */
export async function startBenchSimulator(mode: SimulatorMode): Promise<BenchSimulator> {
  if (mode === 'process') {
    const simulator = await startLocalSimulatorProcess();
    return { url: simulator.url, mode, stop: () => simulator.stop() };
  }
  const simulator = await startSimulator();
  return { url: simulator.url, mode, stop: () => simulator.close() };
}

/** `BENCH_SIMULATOR`, read before anything is set up: a wrong one stops the benchmark there (exit status 2). */
export function simulatorModeFromEnvironment(): SimulatorMode {
  const mode = process.env.BENCH_SIMULATOR ?? 'process';
  if (mode !== 'process' && mode !== 'in-process') {
    console.error(`BENCH_SIMULATOR must be "process" or "in-process", not "${mode}".`);
    process.exit(2);
  }
  return mode;
}

/**
 * A license-model product of metered `dimensions` in the simulator, and `count` live licenses of it made with the
 * simulator's clock standing at `since` (so that usage of any later hour is inside their active period),
 * `concurrency` control calls at a time: the subscribers of a benchmark.
 */
export async function licenseBuyers(
  control: SimulatorControl,
  product: { readonly code: string; readonly name: string; readonly dimensions: readonly string[] },
  count: number,
  since: Date,
  concurrency = 32,
): Promise<LicenseSubscriber[]> {
  await control.createProduct({
    code: product.code,
    name: product.name,
    pricingModel: 'subscriptions',
    identityModel: 'license',
    dimensions: product.dimensions.map((name) => ({ name, kind: 'metered' as const })),
  });
  await control.setClock(since, false);
  const licenses: LicenseView[] = new Array<LicenseView>(count);
  await forEachConcurrently(
    Array.from({ length: count }, (_, index) => index),
    concurrency,
    async (index) => {
      licenses[index] = (await control.createLicense({ productCode: product.code })).license;
    },
  );
  return licenses.map(licenseSubscriberOf);
}

// ---------------------------------------------------------------------------------------------------------------------
// Items as the lambdas write them

export interface LicenseSubscriber {
  readonly subscriberId: string;
  readonly productCode: string;
  readonly licenseArn: string;
  readonly customerAWSAccountId: string;
}

export function licenseSubscriberOf(license: LicenseView): LicenseSubscriber {
  if (license.licenseArn === undefined) throw new Error(`License ${license.id} has no LicenseArn: not license-model`);
  return {
    subscriberId: subscriberIdOf({ model: 'license', licenseArn: license.licenseArn }),
    productCode: license.productCode,
    licenseArn: license.licenseArn,
    customerAWSAccountId: license.customerAWSAccountId,
  };
}

/** A license subscriber the simulator need not know, for benchmarks that record usage but never call Marketplace. */
export function localLicenseSubscriber(productCode: string, index: number): LicenseSubscriber {
  const licenseArn = `arn:aws:license-manager::999999999999:license:l-${String(index).padStart(32, '0')}`;
  return {
    subscriberId: subscriberIdOf({ model: 'license', licenseArn }),
    productCode,
    licenseArn,
    customerAWSAccountId: String(100_000_000_000 + index),
  };
}

/**
 * The Subscribers item `LifecycleRepository.applyToSubscriber` leaves for a license subscriber activated at `since`
 * (its first notification, so version 1), live: it carries the `live` index shard.
 */
export function activeSubscriberItem(subscriber: LicenseSubscriber, since: Date): Record<string, unknown> {
  return {
    ...subscriberKey(subscriber.subscriberId),
    lifecycle: { startedAt: since.toISOString(), activatedAt: since.toISOString() },
    lifecycleVersion: 1,
    subscriptionStatus: 'active',
    statusChangedAt: since.toISOString(),
    liveShard: liveShardOf(subscriber.subscriberId),
    subscriberId: subscriber.subscriberId,
    identityModel: 'license',
    productCode: subscriber.productCode,
    licenseArn: subscriber.licenseArn,
    customerAWSAccountId: subscriber.customerAWSAccountId,
  };
}

/** An open bucket as the recorder's `UpdateItem` leaves it after adding untagged units (`usage-write-plan.ts`). */
export function openBucketItem(
  subscriberId: string,
  hour: Date,
  dimension: string,
  quantity: number,
): Record<string, unknown> {
  return {
    ...bucketKey(subscriberId, hour, dimension),
    subscriberId,
    dimension,
    hour: hour.toISOString(),
    state: 'open',
    pendingShard: pendingShardOf(subscriberId),
    pendingHour: hour.toISOString(),
    quantity,
  };
}

/** Puts every item, 25 to a `BatchWriteItem`, `concurrency` requests at a time, until none is left unprocessed. */
export async function batchPut(
  client: DynamoDBDocumentClient,
  tableName: string,
  items: readonly Record<string, unknown>[],
  concurrency = 8,
): Promise<void> {
  const chunks: Record<string, unknown>[][] = [];
  for (let start = 0; start < items.length; start += 25) chunks.push(items.slice(start, start + 25));
  await forEachConcurrently(chunks, concurrency, async (chunk) => {
    let requests = chunk.map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 1; requests.length > 0; attempt++) {
      if (attempt > 10) throw new Error(`BatchWriteItem left ${requests.length} items unprocessed 10 times`);
      const { UnprocessedItems } = await client.send(
        new BatchWriteCommand({ RequestItems: { [tableName]: requests } }),
      );
      requests = (UnprocessedItems?.[tableName] ?? []) as typeof requests;
      if (requests.length > 0) await sleep(20 * attempt);
    }
  });
}

/** Throws unless `actual` (as read back) equals `expected`, attribute for attribute. */
export function assertSameItem(what: string, actual: Record<string, unknown> | undefined, expected: object): void {
  const sorted = (item: object | undefined) =>
    JSON.stringify(
      item === undefined ? null : Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : 1))),
    );
  if (sorted(actual) !== sorted(expected)) {
    throw new Error(
      `${what}: the benchmark's item differs from the one the real writer left.\n` +
        `  real:      ${sorted(actual)}\n  benchmark: ${sorted(expected)}`,
    );
  }
}

/**
 * An item's size as DynamoDB counts it for capacity: attribute names and values in bytes (strings in UTF-8, numbers
 * about one byte per two significant digits plus one, maps and lists 3 bytes plus 1 per element).
 */
export function itemSizeBytes(item: Record<string, unknown>): number {
  const valueSize = (value: unknown): number => {
    if (typeof value === 'string') return Buffer.byteLength(value);
    if (typeof value === 'number') {
      const digits = String(Math.abs(value))
        .replace(/[.e+-]/g, '')
        .replace(/^0+/, '')
        .replace(/0+$/, '');
      return Math.ceil(Math.max(1, digits.length) / 2) + 1;
    }
    if (typeof value === 'boolean' || value === null) return 1;
    if (Array.isArray(value)) return 3 + value.reduce((sum: number, element) => sum + 1 + valueSize(element), 0);
    if (typeof value === 'object') {
      return (
        3 +
        Object.entries(value as Record<string, unknown>).reduce(
          (sum, [name, element]) => sum + 1 + Buffer.byteLength(name) + valueSize(element),
          0,
        )
      );
    }
    return 0;
  };
  return Object.entries(item).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + valueSize(value), 0);
}

// ---------------------------------------------------------------------------------------------------------------------
// Printing

export const fixed = (value: number, digits = 2) => value.toFixed(digits);
export const thousands = (value: number) => Math.round(value).toLocaleString('en-US');
