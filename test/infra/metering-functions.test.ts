/**
 * The usage and metering functions as deployed (`deployed-functions.ts`): their entry points started with the
 * environment the stack gives each, invoked with what API Gateway and their rules deliver. Every DynamoDB request they
 * send must be one their roles allow, and the metrics the run publishes must be the ones its alarms watch: a mismatch
 * in either would only show in AWS, as AccessDenied or as an alarm that never goes off.
 */
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { beforeAll, describe, expect, test, vi } from 'vitest';
import type * as AwsClients from '../../lambdas/core/aws-clients.ts';
import { liveShardOf, subscriberKey } from '../../lambdas/core/table-keys.ts';
import { authorizationsOf, contextOf, deployedFunctions, type Invocation } from './deployed-functions.ts';
import { scheduledEvent } from '../../local/schedule.ts';
import { apiGatewayEvent, eventBridgeEvent, type HttpHandler } from '../support/lambda-events.ts';
import { publishedEntries, subscriptionEnding } from './subscribers-stream.ts';
import { resourcesOfType, synthesize } from './synthesis.ts';

const fakes = await vi.hoisted(async () => (await import('./fake-aws.ts')).fakeAws());

vi.mock('../../lambdas/core/aws-clients.ts', async (importOriginal) => ({
  ...(await importOriginal<typeof AwsClients>()),
  documentClient: () => fakes.client,
  // Nothing here is due for Marketplace: a call would be a surprise, and fails the run.
  meteringClient: () => ({ send: () => Promise.reject(new Error('this test expects no BatchMeterUsage call')) }),
}));

const eventSource = 'acme.saas-marketplace';
const synthesized = synthesize({ 'marketplace.events.source': eventSource });
const { template } = synthesized;
const { start, invoke, allows, expectAllAllowed } = deployedFunctions(synthesized, fakes);
const subscriberId = 'license:arn:aws:license-manager::111122223333:license:l-0123456789abcdef0123456789abcdef';
const meteredProduct = 'analytics-pro-example';

test('the permission check refuses what a role does not allow (so that its passing means something)', () => {
  const check = (name: string, input: Record<string, unknown>) =>
    authorizationsOf({ name, input }).every((authorization) => allows('Metering', authorization));
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
  let response: Invocation<APIGatewayProxyResult>;

  beforeAll(async () => {
    const handler = await start<HttpHandler>('Usage');
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
    const event = apiGatewayEvent('POST', '/usage', {
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        events: [
          { subscriberId, dimension: 'requests', quantity: 3, timestamp, eventId: 'event-1' },
          { subscriberId, dimension: 'storage_gb', quantity: 7, timestamp, tags: { team: 'a' } },
        ],
      }),
    });
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
      authorizationsOf(response.sent[1]!)
        .map((authorization) => authorization.action)
        .sort(),
    ).toEqual(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:UpdateItem']);
    expectAllAllowed('Usage', response.sent);
  });
});

describe('the metering function', () => {
  let handler: (event: unknown, context: Context) => Promise<unknown>;
  const context = contextOf('metering');

  beforeAll(async () => {
    handler = await start('Metering');
  });

  describe('started by its hourly schedule', () => {
    let run: Invocation<unknown>;

    beforeAll(async () => {
      // One live subscriber on the first page of the `live` index, so that the run also makes its zero-usage records:
      // one whose buyer has arrived, so that a record can name its account.
      let live: Record<string, unknown>[] = [
        {
          pk: subscriberKey(subscriberId).pk,
          sk: 'SUBSCRIBER',
          subscriberId,
          identityModel: 'license',
          licenseArn: subscriberId.slice('license:'.length),
          customerAWSAccountId: '210987654321',
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
      run = await invoke(() => handler(scheduledEvent('schedule', new Date()), context));
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
      expectAllAllowed('Metering', run.sent);
    });

    test("reads of subscribers only who they are and their lifecycle, never the buyer's contact details", () => {
      const reads = run.sent.filter((command) => command.input['TableName'] === 'Subscribers');
      expect(reads.length).toBeGreaterThan(0);
      for (const { input } of reads) {
        const names = Object.values((input['ExpressionAttributeNames'] ?? {}) as Record<string, string>);
        expect(input['ProjectionExpression'], JSON.stringify(input)).toBeDefined();
        expect(names).not.toContain('registration');
        expect(names).toContain('lifecycle');
      }
    });

    test('publishes the metrics its alarms watch, in their namespace, under their dimension, in their units', () => {
      const alarms = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm'))
        .map((alarm) => alarm.Properties)
        // An alarm on metric math (the API functions' throttles) has no namespace of its own: AWS's metrics.
        .filter((alarm) => typeof alarm['Namespace'] === 'string' && !alarm['Namespace'].startsWith('AWS/'));
      expect(alarms.map((alarm) => alarm['MetricName']).sort()).toEqual([
        'FinalMeteringMissed',
        'OldestPendingAge',
        'RecordsPending',
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
  let handler: (event: unknown, context: Context) => Promise<unknown>;
  const context = contextOf('final-metering');

  beforeAll(async () => {
    handler = await start('FinalMetering');
  });

  test("started every minute, reads the ending index, then each ending subscriber's buckets, as its role allows", async () => {
    let ending: Record<string, unknown>[] = [{ pk: subscriberKey(subscriberId).pk, sk: 'SUBSCRIBER', subscriberId }];
    fakes.answers.set('QueryCommand', (input) => {
      if (input['IndexName'] !== 'ending') return {};
      const items = ending;
      ending = [];
      return { Items: items };
    });
    const run = await invoke(() => handler(scheduledEvent('schedule', new Date()), context));
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
    expectAllAllowed('FinalMetering', run.sent);
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
    expectAllAllowed('FinalMetering', run.sent);
  });
});
