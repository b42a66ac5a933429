/**
 * The buyer-facing, lifecycle and notification functions as deployed (`deployed-functions.ts`; the usage and metering
 * functions have `metering-functions.test.ts`): each entry module the stack bundles, started with the environment the
 * stack gives its function, answers what its trigger delivers, and touches AWS only as its role allows. The local
 * stack runs the same wiring through the same factories, but never these one-line entries.
 */
import type { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Context, DynamoDBStreamEvent, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { describe, expect, test, vi } from 'vitest';
import type * as AwsClients from '../../lambdas/core/aws-clients.ts';
import { contextOf, deployedFunctions } from './deployed-functions.ts';
import { scheduledEvent } from '../../local/schedule.ts';
import { apiGatewayEvent, sqsEvent, type HttpHandler } from '../support/lambda-events.ts';
import { partsOf, statementsOf, on } from './iam.ts';
import { subscribersStream } from './subscribers-stream.ts';
import { getAtt, logicalIdOf, projectFunction, synthesize, webhookUrl } from './synthesis.ts';

const fakes = await vi.hoisted(async () => (await import('./fake-aws.ts')).fakeAws());

vi.mock('../../lambdas/core/aws-clients.ts', async (importOriginal) => ({
  ...(await importOriginal<typeof AwsClients>()),
  documentClient: () => fakes.client,
  eventBridgeClient: () => fakes.client,
  // Nothing here calls Marketplace: a call would be a surprise, and fails the invocation.
  meteringClient: () => ({ send: () => Promise.reject(new Error('this test expects no Marketplace call')) }),
  entitlementClient: () => ({ send: () => Promise.reject(new Error('this test expects no Marketplace call')) }),
}));

const eventSource = 'acme.saas-marketplace';
const synthesized = synthesize({
  'marketplace.events.source': eventSource,
  'marketplace.notifications.webhookUrl': webhookUrl,
});
const { stack, template } = synthesized;
const { environmentOf, start, invoke, expectAllAllowed } = deployedFunctions(synthesized, fakes);
const subscriberId = 'license:arn:aws:license-manager::111122223333:license:l-0123456789abcdef0123456789abcdef';

describe('the fulfillment function', () => {
  test('answers a POST without a Marketplace token with the page that says so, and asks nobody', async () => {
    const handler = await start<HttpHandler>('Fulfillment');
    const { result, sent } = await invoke(() =>
      handler(
        apiGatewayEvent('POST', '/fulfillment', {
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'offerType=standard',
        }),
        contextOf('fulfillment'),
      ),
    );
    expect(result.statusCode).toBe(400);
    expect(result.body).toContain('We could not find your subscription');
    expect(sent).toEqual([]);
  });
});

describe('the registration page function', () => {
  test('answers a browser without the session cookie with the page that says so, and reads nothing', async () => {
    const handler = await start<HttpHandler>('RegistrationPage');
    const { result, sent } = await invoke(() =>
      handler(apiGatewayEvent('GET', '/register'), contextOf('registration-page')),
    );
    expect(result.statusCode).toBe(403);
    expect(result.body).toContain('We could not find your session');
    expect(sent).toEqual([]);
  });
});

describe('the access check function', () => {
  test('looks the subscriber up in the Subscribers table, as its role allows, and answers 404 for one it lacks', async () => {
    const handler = await start<HttpHandler>('SubscriberAccess');
    const { result, sent } = await invoke(() =>
      handler(
        apiGatewayEvent('GET', '/subscribers/{id}', { pathParameters: { id: subscriberId } }),
        contextOf('subscriber-access'),
      ),
    );
    expect(result.statusCode).toBe(404);
    expect(sent).toEqual([
      { name: 'GetCommand', input: expect.objectContaining({ TableName: 'Subscribers' }) as unknown },
    ]);
    expectAllAllowed('SubscriberAccess', sent);
  });
});

describe('the lifecycle function', () => {
  test('sets a message it cannot read aside in the Subscribers table, as its role allows, and reports no failure', async () => {
    const handler = await start<(event: SQSEvent, context: Context) => Promise<SQSBatchResponse>>('Lifecycle');
    const { result, sent } = await invoke(() =>
      handler(sqsEvent([JSON.stringify({ Type: 'Notification', Message: '{"action":' })]), contextOf('lifecycle')),
    );
    expect(result).toEqual({ batchItemFailures: [] });
    expect(sent.map((command) => `${command.name} ${String(command.input['TableName'])}`)).toEqual([
      'PutCommand Subscribers',
    ]);
    expectAllAllowed('Lifecycle', sent);
  });
});

describe('the final-metering windows sweep', () => {
  test('started by its schedule, reads every shard of the ending index as its role allows, closing nothing', async () => {
    const handler = await start<(event: unknown, context: Context) => Promise<unknown>>('FinalMeteringWindows');
    let ending: Record<string, unknown>[] = [];
    fakes.answers.set('QueryCommand', (input) => {
      if (input['IndexName'] !== 'ending') return {};
      const items = ending;
      ending = [];
      return { Items: items };
    });
    const { result, sent } = await invoke(() =>
      handler(scheduledEvent('schedule', new Date()), contextOf('final-metering-windows')),
    );
    fakes.answers.clear();
    expect(result).toEqual({ closed: 0 });
    expect([
      ...new Set(sent.map((command) => `${String(command.input['TableName'])}/${String(command.input['IndexName'])}`)),
    ]).toEqual(['Subscribers/ending']);
    expectAllAllowed('FinalMeteringWindows', sent);
  });
});

describe('the seller notifier', () => {
  test("publishes a completed registration to the stack's seller bus, which its role may put events on", async () => {
    const handler = await start<(event: DynamoDBStreamEvent, context: Context) => Promise<unknown>>('SellerNotifier');
    const { announced } = await subscribersStream();
    fakes.answers.set('PutEventsCommand', (input) => ({
      Entries: (input['Entries'] as unknown[]).map((_, index) => ({ EventId: `event-${index}` })),
    }));
    const { result, sent } = await invoke(() =>
      handler({ Records: [announced['a registration completed']] }, contextOf('seller-notifier')),
    );
    fakes.answers.clear();
    expect(result).toEqual({ batchItemFailures: [] });
    const [command, ...more] = sent as unknown as { name: string; input: PutEventsCommand['input'] }[];
    expect(more).toEqual([]);
    expect(command?.name).toBe('PutEventsCommand');
    const [entry] = command?.input.Entries ?? [];
    const busId = logicalIdOf(stack.sellerEvents.bus);
    expect(entry).toMatchObject({ EventBusName: busId, Source: eventSource, DetailType: 'Subscriber Registered' });
    const { roleId } = partsOf(projectFunction(stack, 'SellerNotifier'));
    expect(
      statementsOf(template, roleId).some(
        (statement) =>
          [statement.Action].flat().includes('events:PutEvents') &&
          [statement.Resource].flat().some((resource) => on(resource) === on(getAtt(busId, 'Arn'))),
      ),
    ).toBe(true);
  });
});

describe('the webhook caller', () => {
  test('starts with the environment the stack gives it: the configured URL, its queue and its secret', async () => {
    const environment = environmentOf('WebhookCaller');
    expect(environment['WEBHOOK_URL']).toBe(webhookUrl);
    const handler = await start<(event: SQSEvent, context: Context) => Promise<SQSBatchResponse>>('WebhookCaller');
    // No record, no call: the secret is read on the first call, not at cold start.
    const { result } = await invoke(() => handler({ Records: [] }, contextOf('webhook')));
    expect(result).toEqual({ batchItemFailures: [] });
  });
});
