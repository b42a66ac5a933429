/**
 * The usage and metering functions as deployed: their real entry points (`lambdas/metering/usage.ts`, `metering.ts`,
 * `final-metering.ts`) started with the environment the stack gives each, and invoked with what API Gateway and their
 * rules deliver. Every
 * DynamoDB request they send must be one their roles allow (as IAM decides it: a batch key by key, a transaction item
 * by item), and the metrics the run publishes must be the ones its alarms watch. A mismatch in either would only show in
 * AWS: as AccessDenied, or as an alarm that never goes off. The AWS clients are fakes: nothing leaves the process.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { liveShardOf, subscriberKey } from '../../lambdas/core/table-keys.ts';
import { mayOnItem, on, partsOf, statementsOf } from './iam.ts';
import { publishedEntries, subscriptionEnding } from './subscribers-stream.ts';
import {
  getAtt,
  logicalIdOf,
  projectFunction,
  resourceNamed,
  resourcesOfType,
  synthesize,
  type FunctionId,
} from './synthesis.ts';

interface SentCommand {
  readonly name: string;
  readonly input: Record<string, unknown>;
}

const fakes = vi.hoisted(() => {
  const sent: SentCommand[] = [];
  /** What the fake DynamoDB answers, by command name; nothing (an empty answer) for the others. */
  const answers = new Map<string, (input: Record<string, unknown>) => unknown>();
  const documentClient = {
    send: (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      sent.push({ name: command.constructor.name, input: structuredClone(command.input) });
      return Promise.resolve(answers.get(command.constructor.name)?.(command.input) ?? {});
    },
  };
  return { sent, answers, documentClient };
});

vi.mock('../../lambdas/core/aws-clients.ts', () => ({
  documentClient: () => fakes.documentClient,
  // Nothing here is due for Marketplace: a call would be a surprise, and fails the run.
  meteringClient: () => ({ send: () => Promise.reject(new Error('this test expects no BatchMeterUsage call')) }),
}));

const eventSource = 'acme.saas-marketplace';
const { stack, template } = synthesize({ 'marketplace.events.source': eventSource });
const tables: Record<string, string> = {
  [logicalIdOf(stack.storage.subscribers)]: 'Subscribers',
  [logicalIdOf(stack.storage.usage)]: 'Usage',
};
const tableIdOf = (name: unknown) => Object.keys(tables).find((id) => tables[id] === name) ?? '';
const subscriberId = 'license:arn:aws:license-manager::111122223333:license:l-0123456789abcdef0123456789abcdef';
const meteredProduct = 'analytics-pro-example';

/** The function's environment as deployed, each table reference standing in for the table's name. */
function deployedEnvironment(id: FunctionId): Record<string, string> {
  const { functionId } = partsOf(projectFunction(stack, id));
  const { Variables } = resourceNamed(template, functionId).Properties['Environment'] as {
    Variables: Record<string, unknown>;
  };
  return Object.fromEntries(
    Object.entries(Variables).map(([name, value]) => [
      name,
      typeof value === 'string' ? value : (tables[(value as { Ref: string }).Ref] ?? ''),
    ]),
  );
}

/** Imports an entry point the way Lambda starts it: with the function's environment, read at cold start. */
async function coldStart<T>(id: FunctionId, entry: () => Promise<T>): Promise<T> {
  for (const [name, value] of Object.entries(deployedEnvironment(id))) vi.stubEnv(name, value);
  try {
    return await entry();
  } finally {
    vi.unstubAllEnvs();
  }
}

const contextOf = (functionName: string) =>
  ({
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: 'request-1',
    getRemainingTimeInMillis: () => 60_000,
  }) as unknown as Context;

/** Every line the functions write (their logs, and the run's metrics in embedded metric format). */
const output: string[] = [];

beforeAll(() => {
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      output.push(...String(chunk).split('\n').filter(Boolean));
      return true;
    });
  }
});

afterAll(() => {
  vi.restoreAllMocks();
});

/** Runs a handler; answers its result, what it sent to DynamoDB, and the JSON lines it wrote. */
async function invoke<T>(run: () => Promise<T>) {
  fakes.sent.length = 0;
  output.length = 0;
  const result = await run();
  const written = output.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
  return { result, sent: [...fakes.sent], written };
}

/** One authorization IAM makes for a DynamoDB request: an action on a table (or index), for a partition key. */
interface Authorization {
  readonly action: string;
  readonly table: unknown;
  readonly index?: string;
  readonly partitionKey?: string;
}

/**
 * The authorizations a request needs, as DynamoDB documents them: a batch's keys each as the batch action, a
 * transaction's items each as the item action it performs (`Update` as UpdateItem, and so on).
 */
function authorizationsOf({ name, input }: SentCommand): Authorization[] {
  const pkOf = (item: unknown) => (item as { pk?: string } | undefined)?.pk;
  switch (name) {
    case 'BatchGetCommand':
      return Object.entries(input['RequestItems'] as Record<string, { Keys: unknown[] }>).flatMap(([table, request]) =>
        request.Keys.map((key) => ({ action: 'dynamodb:BatchGetItem', table, partitionKey: pkOf(key) })),
      );
    case 'TransactWriteCommand':
      return (input['TransactItems'] as Record<string, Record<string, unknown>>[]).map((item) => {
        const [[operation, request] = ['', {}]] = Object.entries(item);
        const action = operation === 'ConditionCheck' ? 'ConditionCheckItem' : `${operation}Item`;
        return {
          action: `dynamodb:${action}`,
          table: request['TableName'],
          partitionKey: pkOf(request['Key'] ?? request['Item']),
        };
      });
    case 'QueryCommand': {
      const index = input['IndexName'] as string | undefined;
      // A query of the table names its partition in its key condition; these functions call the value `:pk`.
      const values = input['ExpressionAttributeValues'] as Record<string, string> | undefined;
      return [
        index === undefined
          ? { action: 'dynamodb:Query', table: input['TableName'], partitionKey: values?.[':pk'] }
          : { action: 'dynamodb:Query', table: input['TableName'], index },
      ];
    }
    default: {
      const operation = name.replace(/Command$/, '');
      return [
        {
          action: `dynamodb:${operation}Item`,
          table: input['TableName'],
          partitionKey: pkOf(input['Key'] ?? input['Item']),
        },
      ];
    }
  }
}

/** Whether the role allows it: an index by its ARN, an item by the leading-keys conditions on its table. */
function allows(roleId: string, { action, table, index, partitionKey }: Authorization): boolean {
  const tableId = tableIdOf(table);
  if (index !== undefined) {
    const indexArn = on({ 'Fn::Join': ['', [getAtt(tableId, 'Arn'), `/index/${index}`]] });
    return statementsOf(template, roleId).some(
      (statement) =>
        [statement.Action].flat().includes(action) &&
        [statement.Resource].flat().some((resource) => on(resource) === indexArn),
    );
  }
  if (partitionKey === undefined) throw new Error(`no partition key for ${action} on ${String(table)}`);
  return mayOnItem(template, roleId, tableId, action, partitionKey);
}

function expectAllAllowed(roleId: string, sent: readonly SentCommand[]) {
  for (const command of sent) {
    for (const authorization of authorizationsOf(command)) {
      expect(allows(roleId, authorization), `${command.name}: ${JSON.stringify(authorization)}`).toBe(true);
    }
  }
}

test('the permission check refuses what a role does not allow (so that its passing means something)', () => {
  const { roleId } = partsOf(projectFunction(stack, 'Metering'));
  const check = (name: string, input: Record<string, unknown>) =>
    authorizationsOf({ name, input }).every((authorization) => allows(roleId, authorization));
  expect(check('GetCommand', { TableName: 'Subscribers', Key: { pk: 'SUBSCRIBER#x' } })).toBe(true);
  expect(check('GetCommand', { TableName: 'Subscribers', Key: { pk: 'SESSION#x' } })).toBe(false);
  expect(check('UpdateCommand', { TableName: 'Subscribers', Key: { pk: 'SUBSCRIBER#x' } })).toBe(false);
  expect(check('DeleteCommand', { TableName: 'Usage', Key: { pk: 'USAGE#x' } })).toBe(false);
  expect(check('QueryCommand', { TableName: 'Subscribers', IndexName: 'ending' })).toBe(false);
  expect(check('QueryCommand', { TableName: 'Usage', IndexName: 'pending' })).toBe(true);
  expect(
    check('TransactWriteCommand', {
      TransactItems: [{ Update: { TableName: 'Usage', Key: { pk: 'USAGE#x' } } }],
    }),
  ).toBe(true);
  expect(
    check('BatchGetCommand', {
      RequestItems: { Subscribers: { Keys: [{ pk: 'SUBSCRIBER#x' }, { pk: 'SESSION#x' }] } },
    }),
  ).toBe(false);
});

describe('the usage function, sent usage through POST /usage', () => {
  const { roleId } = partsOf(projectFunction(stack, 'Usage'));
  let response: Awaited<ReturnType<typeof invoke<APIGatewayProxyResult>>>;

  beforeAll(async () => {
    const { handler } = await coldStart('Usage', () => import('../../lambdas/metering/usage.ts'));
    // An active subscriber of a product with metered dimensions, and no event id counted yet.
    fakes.answers.set('BatchGetCommand', () => ({
      Responses: {
        Subscribers: [
          {
            pk: subscriberKey(subscriberId).pk,
            productCode: meteredProduct,
            lifecycle: { activatedAt: '2020-01-01T00:00:00.000Z' },
          },
        ],
        Usage: [],
      },
    }));
    const timestamp = new Date(Date.now() - 60_000).toISOString();
    const event = {
      httpMethod: 'POST',
      path: '/usage',
      headers: { 'Content-Type': 'application/json' },
      isBase64Encoded: false,
      requestContext: { requestId: 'request-1' },
      body: JSON.stringify({
        events: [
          { subscriberId, dimension: 'requests', quantity: 3, timestamp, eventId: 'event-1' },
          { subscriberId, dimension: 'storage_gb', quantity: 7, timestamp, tags: { team: 'a' } },
        ],
      }),
    } as unknown as APIGatewayProxyEvent;
    response = await invoke(() => handler(event, contextOf('usage')));
    fakes.answers.clear();
  });

  test('records it', () => {
    expect(response.result.statusCode).toBe(200);
    const { results } = JSON.parse(response.result.body) as { results: { status: string }[] };
    expect(results.map((result) => result.status)).toEqual(['accepted', 'accepted']);
  });

  test('reads and writes DynamoDB only as its role allows, the transaction item by item', () => {
    expect(response.sent.map((command) => command.name)).toEqual(['BatchGetCommand', 'TransactWriteCommand']);
    expect(
      authorizationsOf(response.sent[1] as SentCommand)
        .map((authorization) => authorization.action)
        .sort(),
    ).toEqual(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:UpdateItem']);
    expectAllAllowed(roleId, response.sent);
  });
});

/** An EventBridge event as Lambda receives it from a rule. */
const eventBridgeEvent = (source: string, detailType: string, detail: unknown) => ({
  version: '0',
  id: 'event-1',
  'detail-type': detailType,
  source,
  account: '123456789012',
  time: new Date().toISOString(),
  region: 'us-east-1',
  resources: [],
  detail,
});

describe('the metering function', () => {
  const { roleId } = partsOf(projectFunction(stack, 'Metering'));
  let handler: (event: unknown, context: Context) => Promise<unknown>;
  const context = contextOf('metering');

  beforeAll(async () => {
    ({ handler } = await coldStart('Metering', () => import('../../lambdas/metering/metering.ts')));
  });

  describe('started by its hourly schedule', () => {
    let run: Awaited<ReturnType<typeof invoke<unknown>>>;

    beforeAll(async () => {
      // One live subscriber on the first page of the `live` index, so that the run also makes its zero-usage records.
      let live: Record<string, unknown>[] = [
        {
          pk: subscriberKey(subscriberId).pk,
          sk: 'SUBSCRIBER',
          subscriberId,
          productCode: meteredProduct,
          liveShard: liveShardOf(subscriberId),
          lifecycle: { activatedAt: '2020-01-01T00:00:00.000Z' },
        },
      ];
      fakes.answers.set('QueryCommand', (input) => {
        if (input['IndexName'] !== 'live') return {};
        const items = live;
        live = [];
        return { Items: items };
      });
      run = await invoke(() => handler(eventBridgeEvent('aws.events', 'Scheduled Event', {}), context));
      fakes.answers.clear();
    });

    test('meters (it is not an event it ignores), making the live subscriber its zero-usage record', () => {
      expect(run.result).toMatchObject({ zeroUsage: 1 });
    });

    test('reads the pending and live indexes of the tables the stack names, and writes only as its role allows', () => {
      const queried = new Set(
        run.sent
          .filter((command) => command.input['IndexName'] !== undefined)
          .map((command) => `${String(command.input['TableName'])}/${String(command.input['IndexName'])}`),
      );
      expect([...queried].sort()).toEqual(['Subscribers/live', 'Usage/pending']);
      expect(run.sent.map((command) => command.name)).toContain('UpdateCommand');
      expectAllAllowed(roleId, run.sent);
    });

    test('publishes the metrics its alarms watch, in their namespace, under their dimension, in their units', () => {
      const alarms = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm'))
        .map((alarm) => alarm.Properties)
        .filter((alarm) => !String(alarm['Namespace']).startsWith('AWS/'));
      expect(alarms.map((alarm) => alarm['MetricName']).sort()).toEqual([
        'FinalMeteringMissed',
        'OldestPendingAge',
        'RecordsRejected',
        'UnconfirmedSends',
      ]);
      const [document, ...more] = run.written.filter((line) => '_aws' in line) as {
        _aws: {
          CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[];
        };
        [key: string]: unknown;
      }[];
      expect(more).toEqual([]);
      const [directive, ...others] = document?._aws.CloudWatchMetrics ?? [];
      expect(others).toEqual([]);
      for (const alarm of alarms) {
        expect(directive?.Namespace).toBe(alarm['Namespace']);
        const dimensions = alarm['Dimensions'] as { Name: string; Value: string }[];
        expect(directive?.Dimensions).toEqual([dimensions.map((dimension) => dimension.Name)]);
        for (const { Name, Value } of dimensions) expect(document?.[Name]).toBe(Value);
        expect(directive?.Metrics.map((metric) => metric.Name)).toContain(alarm['MetricName']);
      }
      // The threshold of metering-behind is in seconds.
      expect(directive?.Metrics.find((metric) => metric.Name === 'OldestPendingAge')?.Unit).toBe('Seconds');
    });
  });

  test('ignores an event neither of its rules sends', async () => {
    const run = await invoke(() =>
      handler(eventBridgeEvent(eventSource, 'Subscriber Registered', { subscriberId }), context),
    );
    expect(run.result).toBeUndefined();
    expect(run.sent).toEqual([]);
  });
});

describe('the final-metering function', () => {
  const { roleId } = partsOf(projectFunction(stack, 'FinalMetering'));
  let handler: (event: unknown, context: Context) => Promise<unknown>;
  const context = contextOf('final-metering');

  beforeAll(async () => {
    ({ handler } = await coldStart('FinalMetering', () => import('../../lambdas/metering/final-metering.ts')));
  });

  test("started every minute, reads the ending index, then each ending subscriber's buckets, as its role allows", async () => {
    let ending: Record<string, unknown>[] = [{ pk: subscriberKey(subscriberId).pk, sk: 'SUBSCRIBER', subscriberId }];
    fakes.answers.set('QueryCommand', (input) => {
      if (input['IndexName'] !== 'ending') return {};
      const items = ending;
      ending = [];
      return { Items: items };
    });
    const run = await invoke(() => handler(eventBridgeEvent('aws.events', 'Scheduled Event', {}), context));
    fakes.answers.clear();
    expect(run.result).toBeDefined();
    const indexes = run.sent.flatMap((command) =>
      command.input['IndexName'] === undefined
        ? []
        : [`${command.input['TableName'] as string}/${command.input['IndexName'] as string}`],
    );
    expect([...new Set(indexes)]).toEqual(['Subscribers/ending']);
    expect(run.sent).toContainEqual({
      name: 'QueryCommand',
      input: expect.objectContaining({
        TableName: 'Usage',
        ExpressionAttributeValues: expect.objectContaining({ ':pk': `USAGE#${subscriberId}` }) as unknown,
      }) as unknown,
    });
    expectAllAllowed(roleId, run.sent);
  });

  test("started by the Subscriber Ending rule, meters the ending subscriber's own buckets, as its role allows", async () => {
    const endingEvent = await subscriptionEnding();
    const [entry] = await publishedEntries([endingEvent.record], eventSource);
    const detail = JSON.parse(entry?.Detail ?? '{}') as unknown;
    const run = await invoke(() =>
      handler(eventBridgeEvent(entry?.Source ?? '', entry?.DetailType ?? '', detail), context),
    );
    expect(run.result).toBeDefined();
    expect(run.sent).toContainEqual({
      name: 'QueryCommand',
      input: expect.objectContaining({
        TableName: 'Usage',
        ExpressionAttributeValues: expect.objectContaining({ ':pk': `USAGE#${endingEvent.subscriberId}` }) as unknown,
      }) as unknown,
    });
    expectAllAllowed(roleId, run.sent);
  });
});
