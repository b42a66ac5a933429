/**
 * Seller notifications: the stream-fed notifier that publishes subscriber changes on the seller's bus, and the
 * optional webhook that calls the seller's endpoint with every event on that bus.
 */
import { describe, expect, test } from 'vitest';
import { mayOnItem, on, partsOf, permissionsOf, sendsTraces, writesOwnLogs } from './iam.ts';
import { filterMatches, publishedEntries, subscribersStream, subscriptionEnding } from './subscribers-stream.ts';
import {
  getAtt,
  logicalIdOf,
  projectFunction,
  resourceNamed,
  resourcesOfType,
  synthesize,
  webhookUrl,
  type CfnResource,
} from './synthesis.ts';

/** Not the default, so that the function and rules must take the source from the configuration. */
const eventSource = 'acme.saas-marketplace';

const platform = (serviceName: string) => ({
  POWERTOOLS_SERVICE_NAME: serviceName,
  NODE_OPTIONS: '--enable-source-maps',
  POWERTOOLS_TRACE_ENABLED: 'true',
});
const variablesOf = (template: ReturnType<typeof synthesize>['template'], functionId: string) =>
  (resourceNamed(template, functionId).Properties['Environment'] as { Variables: Record<string, unknown> }).Variables;

describe('the seller notifier', () => {
  const { stack, template } = synthesize({ 'marketplace.events.source': eventSource });
  const notifier = projectFunction(stack, 'SellerNotifier');
  const { functionId, roleId } = partsOf(notifier);
  const subscribersTableId = logicalIdOf(stack.storage.subscribers);
  const sellerBusId = logicalIdOf(stack.sellerEvents.bus);
  const deadLetterQueueId = logicalIdOf(stack.sellerNotifications.notifierDeadLetterQueue);
  const mappings = Object.values(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')).filter(
    (resource) => JSON.stringify(resource.Properties['FunctionName']) === JSON.stringify({ Ref: functionId }),
  );
  const [mapping] = mappings;
  const { FilterCriteria, ...settings } = (mapping?.Properties ?? {}) as {
    FilterCriteria: { Filters: { Pattern: string }[] };
  };
  const patterns = FilterCriteria.Filters.map((filter) => JSON.parse(filter.Pattern) as unknown);
  const passes = (record: unknown) => patterns.some((pattern) => filterMatches(pattern, record));

  test('gets the seller bus and the configured event source', () => {
    expect(variablesOf(template, functionId)).toEqual({
      EVENT_BUS_NAME: { Ref: sellerBusId },
      EVENT_SOURCE: eventSource,
      ...platform('seller-notifier'),
    });
  });

  test('reads the stream, puts events on the seller bus and dead-letters, nothing else', () => {
    const stream = on(getAtt(subscribersTableId, 'StreamArn'));
    const queue = on(getAtt(deadLetterQueueId, 'Arn'));
    expect(permissionsOf(template, roleId)).toEqual(
      [
        ...writesOwnLogs(notifier),
        ...sendsTraces,
        `dynamodb:DescribeStream on ${stream}`,
        `dynamodb:GetRecords on ${stream}`,
        `dynamodb:GetShardIterator on ${stream}`,
        `dynamodb:ListStreams on ${stream}`,
        `events:PutEvents on ${on(getAtt(sellerBusId, 'Arn'))}`,
        `sqs:GetQueueAttributes on ${queue}`,
        `sqs:GetQueueUrl on ${queue}`,
        `sqs:SendMessage on ${queue}`,
      ].sort(),
    );
    expect(mayOnItem(template, roleId, subscribersTableId, 'dynamodb:GetItem', 'SUBSCRIBER#x')).toBe(false);
  });

  test('reads the Subscribers stream in small batches, retrying only the records that failed', () => {
    expect(mappings).toHaveLength(1);
    expect(settings).toMatchObject({
      EventSourceArn: getAtt(subscribersTableId, 'StreamArn'),
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
    });
  });

  test("retries a record until it is 12 hours old (half the stream's retention), then dead-letters it", () => {
    // Unset is Lambda's default, -1: retry until the record is too old. A retry count would dead-letter every
    // change a few minutes into an EventBridge outage.
    expect([undefined, -1]).toContain((settings as Record<string, unknown>)['MaximumRetryAttempts']);
    expect(settings).toMatchObject({
      MaximumRecordAgeInSeconds: 12 * 3600,
      DestinationConfig: { OnFailure: { Destination: getAtt(deadLetterQueueId, 'Arn') } },
    });
  });

  test('lets through the registration and lifecycle writes the notifier publishes', async () => {
    const { announced } = await subscribersStream();
    for (const [write, record] of Object.entries(announced)) {
      expect(passes(record), write).toBe(true);
      expect(await publishedEntries([record], eventSource), write).not.toEqual([]);
    }
  });

  test('lets through the write that opens a final-metering window: its Subscriber Ending event starts final metering', async () => {
    const { record } = await subscriptionEnding();
    expect(passes(record)).toBe(true);
    const entries = await publishedEntries([record], eventSource);
    expect(entries.map((entry) => entry.DetailType)).toEqual(['Subscriber Ending']);
  });

  test('lets through every insert and change of a subscriber item, the notifier deciding what to publish', async () => {
    const { subscriberResolved } = await subscribersStream();
    expect(passes(subscriberResolved)).toBe(true);
    expect(await publishedEntries([subscriberResolved], eventSource)).toEqual([]);
  });

  test('holds back writes to other items and deletions', async () => {
    const { others } = await subscribersStream();
    for (const [write, record] of Object.entries(others)) expect(passes(record), write).toBe(false);
  });

  test('dead-letters into an encrypted, TLS-only queue that keeps messages 14 days, with its URL as an output', () => {
    expect(resourceNamed(template, deadLetterQueueId).Properties).toEqual({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: deadLetterQueueId }],
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Deny',
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Principal: { AWS: '*' },
            Resource: getAtt(deadLetterQueueId, 'Arn'),
          },
        ],
      },
    });
    template.hasOutput('SellerNotifierDeadLetterQueueUrl', { Value: { Ref: deadLetterQueueId } });
  });
});

describe('without a webhook URL', () => {
  const { stack, template } = synthesize();

  test('has no webhook: no secret, no webhook function, no rule on the seller bus but the one starting final metering, no webhook output', () => {
    expect(stack.sellerNotifications.webhook).toBeUndefined();
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    const busId = logicalIdOf(stack.sellerEvents.bus);
    const onSellerBus = Object.values(resourcesOfType(template, 'AWS::Events::Rule')).filter(
      (rule) => JSON.stringify(rule.Properties['EventBusName']) === JSON.stringify({ Ref: busId }),
    );
    // The one rule on the bus hands Subscriber Ending events to the final-metering function.
    const finalMeteringArn = getAtt(partsOf(projectFunction(stack, 'FinalMetering')).functionId, 'Arn');
    expect(onSellerBus.map((rule) => rule.Properties['Targets'])).toEqual([
      [expect.objectContaining({ Arn: finalMeteringArn })],
    ]);
    expect(() => projectFunction(stack, 'WebhookCaller')).toThrow();
    expect(Object.keys(template.toJSON()['Outputs'] as object).filter((name) => name.startsWith('Webhook'))).toEqual(
      [],
    );
  });
});

describe('with a webhook URL', () => {
  const { stack, template } = synthesize({
    'marketplace.notifications.webhookUrl': webhookUrl,
    'marketplace.events.source': eventSource,
  });
  const { webhook } = stack.sellerNotifications;
  if (webhook === undefined) throw new Error('no webhook');
  const caller = projectFunction(stack, 'WebhookCaller');
  const { functionId, roleId } = partsOf(caller);
  const secretId = logicalIdOf(webhook.signingSecret);
  const busId = logicalIdOf(stack.sellerEvents.bus);
  const deadLetterQueueId = logicalIdOf(webhook.deadLetterQueue);
  const undeliveredId = logicalIdOf(webhook.undeliveredEventsQueue);
  const rulesOnBus = Object.entries(resourcesOfType(template, 'AWS::Events::Rule')).filter(
    ([, candidate]) => JSON.stringify(candidate.Properties['EventBusName']) === JSON.stringify({ Ref: busId }),
  );
  /** The resource a rule target's `Arn` (`Fn::GetAtt` of a resource of the stack) points at. */
  const targetedResource = (target: Record<string, unknown> | undefined) => {
    const arn = (target?.['Arn'] ?? {}) as { 'Fn::GetAtt'?: [string, string] };
    const id = arn['Fn::GetAtt']?.[0];
    return id === undefined ? undefined : { id, type: resourceNamed(template, id).Type };
  };
  /** Beside the metering engine's final-flush rule (see metering.test.ts), the webhook's rule: the one into a queue. */
  const intoQueues = rulesOnBus.filter(([, candidate]) =>
    (candidate.Properties['Targets'] as Record<string, unknown>[]).some(
      (target) => targetedResource(target)?.type === 'AWS::SQS::Queue',
    ),
  );
  const [ruleId, rule] = intoQueues.length === 1 ? (intoQueues[0] as [string, CfnResource]) : ['', undefined];
  const [target] = (rule?.Properties['Targets'] ?? []) as Record<string, unknown>[];
  const queueId = targetedResource(target)?.id ?? '';
  const queue = resourceNamed(template, queueId).Properties;
  const [mapping] = Object.values(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')).filter(
    (resource) => JSON.stringify(resource.Properties['FunctionName']) === JSON.stringify({ Ref: functionId }),
  );

  test('generates a signing key of 64 letters and digits, and outputs its ARN (never its value)', () => {
    expect(resourceNamed(template, secretId).Properties['GenerateSecretString']).toEqual({
      PasswordLength: 64,
      ExcludePunctuation: true,
    });
    template.hasOutput('WebhookSigningSecretArn', { Value: { Ref: secretId } });
  });

  test('sends every event of the configured source on the seller bus to the webhook queue', () => {
    expect(intoQueues).toHaveLength(1);
    expect(rule?.Properties).toMatchObject({ EventBusName: { Ref: busId }, EventPattern: { source: [eventSource] } });
    expect(Object.keys(rule?.Properties['EventPattern'] as object)).toEqual(['source']);
    expect(rule?.Properties['Targets']).toHaveLength(1);
    // The bus's other rule starts final metering: it targets the final-metering function, not a queue.
    const finalMeteringArn = getAtt(partsOf(projectFunction(stack, 'FinalMetering')).functionId, 'Arn');
    expect(rulesOnBus.filter(([id]) => id !== ruleId).map(([, other]) => other.Properties['Targets'])).toEqual([
      [expect.objectContaining({ Arn: finalMeteringArn })],
    ]);
  });

  test('matches the events the seller notifier publishes, registration and lifecycle alike', async () => {
    const { announced } = await subscribersStream();
    const entries = await publishedEntries(Object.values(announced), eventSource);
    expect(entries.map((entry) => entry.DetailType).sort()).toEqual(['Subscriber Activated', 'Subscriber Registered']);
    for (const entry of entries) expect([eventSource]).toContain(entry.Source);
  });

  test('dead-letters what EventBridge cannot put in the queue, after retrying for 24 hours', () => {
    expect(target).toMatchObject({
      DeadLetterConfig: { Arn: getAtt(undeliveredId, 'Arn') },
      RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 24 * 3600 },
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: undeliveredId }],
      PolicyDocument: {
        Statement: [
          { Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
          {
            Effect: 'Allow',
            Action: 'sqs:SendMessage',
            Principal: { Service: 'events.amazonaws.com' },
            Condition: { ArnEquals: { 'aws:SourceArn': getAtt(ruleId, 'Arn') } },
          },
        ],
      },
    });
  });

  test('queues the events encrypted, TLS only, hidden longer than the function runs, ten attempts each', () => {
    const timeout = resourceNamed(template, functionId).Properties['Timeout'] as number;
    expect(queue).toMatchObject({
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: getAtt(deadLetterQueueId, 'Arn'), maxReceiveCount: 10 },
    });
    expect(queue['VisibilityTimeout']).toBeGreaterThan(timeout);
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: [
          { Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
          {
            Effect: 'Allow',
            Action: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
            Principal: { Service: 'events.amazonaws.com' },
            Condition: { ArnEquals: { 'aws:SourceArn': getAtt(ruleId, 'Arn') } },
          },
        ],
      },
    });
    expect(resourceNamed(template, deadLetterQueueId).Properties).toMatchObject({ SqsManagedSseEnabled: true });
    template.hasOutput('WebhookDeadLetterQueueUrl', { Value: { Ref: deadLetterQueueId } });
  });

  test('feeds the function from the queue, reporting failed messages one by one, two batches at a time', () => {
    expect(mapping?.Properties).toMatchObject({
      EventSourceArn: getAtt(queueId, 'Arn'),
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });

  test('tells the function the endpoint, the secret and the queue', () => {
    expect(variablesOf(template, functionId)).toEqual({
      WEBHOOK_URL: webhookUrl,
      WEBHOOK_SECRET_ARN: { Ref: secretId },
      WEBHOOK_QUEUE_URL: { Ref: queueId },
      ...platform('webhook'),
    });
  });

  test('lets the function read this one secret and consume this one queue, nothing else', () => {
    const queueArn = on(getAtt(queueId, 'Arn'));
    expect(permissionsOf(template, roleId)).toEqual(
      [
        ...writesOwnLogs(caller),
        ...sendsTraces,
        `secretsmanager:GetSecretValue on ${on({ Ref: secretId })}`,
        ...['ChangeMessageVisibility', 'DeleteMessage', 'GetQueueAttributes', 'GetQueueUrl', 'ReceiveMessage'].map(
          (action) => `sqs:${action} on ${queueArn}`,
        ),
      ].sort(),
    );
  });
});
