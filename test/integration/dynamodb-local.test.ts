import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { getFreePort } from '../../local/free-port.ts';
import { createDynamoDbClient, DynamoDbLocalStartError, startDynamoDbLocal } from '../../local/dynamodb/launcher.ts';
import type { DynamoDbLocal } from '../../local/dynamodb/launcher.ts';
import { createTables } from '../../local/dynamodb/tables.ts';
import { useDynamoDb } from '../support/dynamodb.ts';
import { expectGone, isRunning, javaProcessesOnPort, waitUntilGone } from '../support/processes.ts';
import { type KeyAttribute, type TableDefinition, tableDefinitions } from '../../contracts/index.ts';

const shared = useDynamoDb();

// Every DynamoDB Local a test starts is stopped even when the test fails half-way.
const started: DynamoDbLocal[] = [];
const clients: DynamoDBClient[] = [];
afterEach(async () => {
  clients.splice(0).forEach((client) => client.destroy());
  await Promise.all(started.splice(0).map((dynamoDb) => dynamoDb.stop()));
});

async function start(options: Parameters<typeof startDynamoDbLocal>[0] = {}): Promise<DynamoDbLocal> {
  const dynamoDb = await startDynamoDbLocal(options);
  started.push(dynamoDb);
  return dynamoDb;
}

async function startFailure(options: Parameters<typeof startDynamoDbLocal>[0] = {}): Promise<DynamoDbLocalStartError> {
  const failure = await start(options).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(failure).toBeInstanceOf(DynamoDbLocalStartError);
  return failure as DynamoDbLocalStartError;
}

function clientFor(dynamoDb: DynamoDbLocal): DynamoDBClient {
  const client = createDynamoDbClient(dynamoDb.endpoint);
  clients.push(client);
  return client;
}

describe('startDynamoDbLocal', () => {
  it('starts on the port it is given, answers, and leaves no process once stopped', async () => {
    const port = await getFreePort();
    const dynamoDb = await start({ port });

    expect(dynamoDb.port).toBe(port);
    expect(dynamoDb.endpoint).toBe(`http://127.0.0.1:${port}`);
    expect(await javaProcessesOnPort(port)).toEqual([dynamoDb.pid]);
    await expect(clientFor(dynamoDb).send(new ListTablesCommand({}))).resolves.toMatchObject({ TableNames: [] });

    await dynamoDb.stop();
    await expectGone(dynamoDb.pid, port);
  });

  it('picks a free port when given none', async () => {
    const dynamoDb = await start();

    expect(dynamoDb.port).toBeGreaterThan(0);
    await expect(clientFor(dynamoDb).send(new ListTablesCommand({}))).resolves.toMatchObject({ TableNames: [] });

    await dynamoDb.stop();
    await expectGone(dynamoDb.pid, dynamoDb.port);
  });

  it('keeps items across a restart with a data directory', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'dynamodb-local-test-'));
    try {
      const first = await start({ dataDir: join(dataDir, 'created-on-demand') });
      await putMarker(clientFor(first));
      await first.stop();

      const second = await start({ dataDir: join(dataDir, 'created-on-demand') });
      expect(await readMarker(clientFor(second))).toBe('still here');
    } finally {
      await Promise.all(started.splice(0).map((dynamoDb) => dynamoDb.stop()));
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('forgets everything across a restart in memory', async () => {
    const first = await start();
    await putMarker(clientFor(first));
    await first.stop();

    const second = await start({ port: first.port });
    await expect(clientFor(second).send(new ListTablesCommand({}))).resolves.toMatchObject({ TableNames: [] });
  });

  it('refuses a port that another server already listens on', async () => {
    const port = await getFreePort();
    const occupant = await listen(port);
    try {
      const failure = await startFailure({ port });
      expect(failure.failure).toBe('port-in-use');
      expect(failure.message).toContain(`port ${port} is already in use`);
    } finally {
      occupant.close();
    }
  });

  it('refuses the port of another DynamoDB Local instead of answering with it', async () => {
    const port = Number(new URL(shared.endpoint).port);
    const failure = await startFailure({ port });
    expect(failure.failure).toBe('port-in-use');
  });

  it('says so when java is not on the PATH', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const failure = await startFailure();
      expect(failure.failure).toBe('java-missing');
      expect(failure.message).toContain('no `java` on PATH');
    } finally {
      process.env.PATH = path;
    }
  });
});

// Not a project table: the launcher tests must not depend on createTables.
const markerTable = 'LauncherMarker';

async function putMarker(client: DynamoDBClient): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: markerTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    }),
  );
  await client.send(
    new PutItemCommand({ TableName: markerTable, Item: { id: { S: 'marker' }, note: { S: 'still here' } } }),
  );
}

async function readMarker(client: DynamoDBClient): Promise<string | undefined> {
  const { Item } = await client.send(new GetItemCommand({ TableName: markerTable, Key: { id: { S: 'marker' } } }));
  return Item?.note?.S;
}

function listen(port: number): Promise<Server> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('createTables', () => {
  function keySchema(partitionKey: KeyAttribute, sortKey: KeyAttribute | undefined) {
    return [
      { AttributeName: partitionKey.name, KeyType: 'HASH' },
      ...(sortKey ? [{ AttributeName: sortKey.name, KeyType: 'RANGE' }] : []),
    ];
  }

  function keyAttributeTypes(definition: TableDefinition): Record<string, string> {
    const keys = [
      definition.partitionKey,
      definition.sortKey,
      ...definition.globalSecondaryIndexes.flatMap((index) => [
        index.partitionKey,
        ...(index.sortKey ? [index.sortKey] : []),
      ]),
    ];
    return Object.fromEntries(keys.map((key) => [key.name, key.type]));
  }

  it('returns every table under the prefix', () => {
    expect(shared.tables).toEqual(
      Object.fromEntries(tableDefinitions.map((definition) => [definition.id, `${shared.prefix}${definition.id}`])),
    );
  });

  it.each(tableDefinitions.map((definition) => [definition.id, definition] as const))(
    'builds %s exactly as defined',
    async (id, definition) => {
      const tableName = shared.tables[id];
      const { Table } = await shared.client.send(new DescribeTableCommand({ TableName: tableName }));

      expect(Table?.TableStatus).toBe('ACTIVE');
      expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
      expect(Table?.KeySchema).toEqual(keySchema(definition.partitionKey, definition.sortKey));
      expect(
        Object.fromEntries((Table?.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a.AttributeType])),
      ).toEqual(keyAttributeTypes(definition));
      expect(Table?.AttributeDefinitions).toHaveLength(Object.keys(keyAttributeTypes(definition)).length);
      expect(
        (Table?.GlobalSecondaryIndexes ?? [])
          .map((index) => ({
            IndexName: index.IndexName,
            KeySchema: index.KeySchema,
            Projection: index.Projection,
            IndexStatus: index.IndexStatus,
          }))
          .sort((a, b) => String(a.IndexName).localeCompare(String(b.IndexName))),
      ).toEqual(
        definition.globalSecondaryIndexes
          .map((index) => ({
            IndexName: index.indexName,
            KeySchema: keySchema(index.partitionKey, index.sortKey),
            Projection: { ProjectionType: index.projection === 'all' ? 'ALL' : 'KEYS_ONLY' },
            IndexStatus: 'ACTIVE',
          }))
          .sort((a, b) => a.IndexName.localeCompare(b.IndexName)),
      );

      const { TimeToLiveDescription } = await shared.client.send(
        new DescribeTimeToLiveCommand({ TableName: tableName }),
      );
      expect(TimeToLiveDescription).toEqual({
        TimeToLiveStatus: 'ENABLED',
        AttributeName: definition.timeToLiveAttribute,
      });
    },
  );

  it('leaves existing tables and their items alone when run again', async () => {
    const [first] = tableDefinitions;
    if (!first) {
      throw new Error('contracts/tables.ts defines no tables');
    }
    const tableName = shared.tables[first.id];
    const key = {
      [first.partitionKey.name]: first.partitionKey.type === 'S' ? { S: 'rerun' } : { N: '1' },
      [first.sortKey.name]: first.sortKey.type === 'S' ? { S: 'rerun' } : { N: '1' },
    };
    await shared.client.send(new PutItemCommand({ TableName: tableName, Item: key }));
    const before = await shared.client.send(new DescribeTableCommand({ TableName: tableName }));

    await expect(createTables(shared.client, { prefix: shared.prefix })).resolves.toEqual(shared.tables);

    const after = await shared.client.send(new DescribeTableCommand({ TableName: tableName }));
    expect(after.Table?.CreationDateTime).toEqual(before.Table?.CreationDateTime);
    const { Item } = await shared.client.send(new GetItemCommand({ TableName: tableName, Key: key }));
    expect(Item).toEqual(key);
  });
});

interface OwnerReport {
  readonly nodePid: number;
  readonly javaPid: number;
  readonly port: number;
}

// A fixture left running by a failed test would keep its java alive, so every one is killed after the suite.
const owners: ChildProcess[] = [];
afterAll(() => {
  owners.forEach((owner) => owner.kill('SIGKILL'));
});

/** Starts test/fixtures/dynamodb-local-owner.ts in its own Node process and waits for it to report java's pid. */
async function startOwner(ending: 'wait' | 'throw' | 'exit'): Promise<{ owner: ChildProcess; report: OwnerReport }> {
  // `node --import tsx` rather than the tsx CLI, which runs the script in a second Node process: killing the CLI
  // would not kill the process that owns java.
  const owner = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, '../fixtures/dynamodb-local-owner.ts'), ending],
    { env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } },
  );
  owners.push(owner);
  // Kept for the failure message only: the `throw` ending prints its stack trace on purpose.
  let stderr = '';
  owner.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  for await (const line of createInterface({ input: owner.stdout })) {
    return { owner, report: JSON.parse(line) as OwnerReport };
  }
  throw new Error(`The fixture exited (code ${owner.exitCode}) before reporting java's pid:\n${stderr}`);
}

describe.concurrent('when the Node process that started DynamoDB Local goes away', () => {
  // Java's TERM shutdown takes about 0.4 s; the watchdog's KILL comes 5 s after TERM. The wait ends as soon as java is
  // gone: the bound only leaves a loaded machine time to get there, and a java that survives still fails it.
  const javaGoneWithinMs = 30_000;
  // Five owners, each starting its own java, start at once: on a loaded machine that can take most of the default 30 s.
  const ownerTestTimeoutMs = 120_000;

  it.each(['SIGKILL', 'SIGTERM', 'SIGINT'] as const)(
    'java dies with it on %s',
    { timeout: ownerTestTimeoutMs },
    async (signal) => {
      const { owner, report } = await startOwner('wait');
      expect(report.nodePid).toBe(owner.pid);
      expect(isRunning(report.javaPid)).toBe(true);

      owner.kill(signal);

      await waitUntilGone(report.javaPid, javaGoneWithinMs);
      await expectGone(report.javaPid, report.port);
    },
  );

  it.each(['throw', 'exit'] as const)(
    'java dies with it when it ends by %s',
    { timeout: ownerTestTimeoutMs },
    async (ending) => {
      const { report } = await startOwner(ending);

      await waitUntilGone(report.javaPid, javaGoneWithinMs);
      await expectGone(report.javaPid, report.port);
    },
  );
});
