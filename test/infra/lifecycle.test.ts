/**
 * The subscription lifecycle: the queue Marketplace's notifications wait in, where they come from (EventBridge rules,
 * the legacy products' SNS topics, the us-east-1 forwarder) as `lifecycle.eventSources` and `region` say, the
 * lifecycle function, and the schedule that closes final-metering windows.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { parseMarketplaceMessage } from '../../lambdas/core/lifecycle/marketplace-messages.ts';
import {
  agreementKey,
  rejectedMarketplaceMessageKey,
  sessionKey,
  subscriberKey,
} from '../../lambdas/core/table-keys.ts';
import { FORWARDER_STACK_ID } from '../../lib/app.ts';
import { configFromContext, parseConfig } from '../../lib/config.ts';
import { cdkJsonContext } from '../../local/config.ts';
import { mayOnItem, on, partsOf, permissionsOf, sendsTraces, writesOwnLogs } from './iam.ts';
import {
  getAtt,
  logicalIdOf,
  projectFunction,
  resourceNamed,
  resourcesOfType,
  snsOnly,
  synthesize,
  type CfnResource,
} from './synthesis.ts';

const config = parseConfig(configFromContext(cdkJsonContext()));
const licenseProduct = config.products.find((product) => product.identityModel === 'license');
const legacyProduct = config.products.find((product) => product.identityModel === 'legacy');
if (licenseProduct === undefined || legacyProduct === undefined) {
  throw new Error('cdk.json must list a license-model and a legacy product for these tests');
}

type Synthesized = ReturnType<typeof synthesize>;

function rulesOf(template: Template): [string, CfnResource][] {
  return Object.entries(resourcesOfType(template, 'AWS::Events::Rule'));
}

/** The rules that match Marketplace's own events. */
function marketplaceRules(template: Template): [string, CfnResource][] {
  return rulesOf(template).filter(([, rule]) =>
    JSON.stringify(rule.Properties['EventPattern'] ?? {}).includes('aws.agreement-marketplace'),
  );
}

/**
 * Whether an EventBridge pattern matches an event. Only exact values are implemented (what the stack uses): any
 * other rule throws, so that a new pattern gets a matcher here rather than a false pass.
 */
function eventMatches(pattern: unknown, value: unknown): boolean {
  if (Array.isArray(pattern)) {
    return pattern.some((rule: unknown) => {
      if (typeof rule !== 'string') throw new Error(`eventMatches cannot evaluate the rule ${JSON.stringify(rule)}`);
      return Array.isArray(value) ? value.includes(rule) : value === rule;
    });
  }
  if (typeof pattern !== 'object' || pattern === null) throw new Error(`not an event pattern: ${String(pattern)}`);
  return Object.entries(pattern).every(([key, nested]) =>
    eventMatches(
      nested,
      typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined,
    ),
  );
}

/** Marketplace's events in their documented shapes (`shared/reference/marketplace-api.md`, 5.2). */
function marketplaceEvent(detailType: string, detail: Record<string, unknown>, source = 'aws.agreement-marketplace') {
  return {
    version: '0',
    id: `event-${detailType.length}`,
    'detail-type': detailType,
    source,
    account: '111122223333',
    time: '2026-12-01T10:00:00Z',
    region: 'us-east-1',
    resources: ['arn:aws:aws-marketplace::aws:agreement:agmt-0123456789abcdef'],
    detail,
  };
}

const licenseDetail = (code: string) => ({
  product: { code, id: 'prod-0123456789abc' },
  license: { arn: 'arn:aws:license-manager::111122223333:license:l-0123456789abcdef0123456789abcdef' },
  agreement: { id: 'agmt-0123456789abcdef' },
  acceptor: { accountId: '444455556666' },
});
const agreementDetail = { agreement: { id: 'agmt-0123456789abcdef', status: 'ACTIVE', intent: 'NEW' } };

const sampleEvents: Record<string, ReturnType<typeof marketplaceEvent>> = {
  'License Updated of a license-model product': marketplaceEvent(
    'License Updated - Manufacturer',
    licenseDetail(licenseProduct.code),
  ),
  'License Deprovisioned of a license-model product': marketplaceEvent(
    'License Deprovisioned - Manufacturer',
    licenseDetail(licenseProduct.code),
  ),
  'License Updated of a legacy product': marketplaceEvent(
    'License Updated - Manufacturer',
    licenseDetail(legacyProduct.code),
  ),
  "License Updated of another seller's product": marketplaceEvent(
    'License Updated - Manufacturer',
    licenseDetail('someone-elses-product'),
  ),
  ...Object.fromEntries(
    ['Created', 'Amended', 'Ended'].flatMap((change) =>
      ['Proposer', 'Manufacturer'].map((role) => {
        const detailType = `Purchase Agreement ${change} - ${role}`;
        return [detailType, marketplaceEvent(detailType, agreementDetail)];
      }),
    ),
  ),
  'another Marketplace detail-type': marketplaceEvent('Purchase Agreement Renewed - Proposer', agreementDetail),
  'the same shape from another source': marketplaceEvent(
    'License Updated - Manufacturer',
    licenseDetail(licenseProduct.code),
    'acme.marketplace',
  ),
};

describe('with the cdk.json configuration (both notification families, no region)', () => {
  const { stack, template } = synthesize({ 'marketplace.lifecycle.finalMeteringGraceMinutes': 75 });
  const { lifecycle } = stack;
  const subscribersTableId = logicalIdOf(stack.storage.subscribers);
  const queueId = logicalIdOf(lifecycle.queue);
  const deadLetterQueueId = logicalIdOf(lifecycle.deadLetterQueue);
  const lifecycleFunction = projectFunction(stack, 'Lifecycle');
  const { functionId, roleId } = partsOf(lifecycleFunction);
  const variables = (id: string) =>
    (resourceNamed(template, id).Properties['Environment'] as { Variables: Record<string, unknown> }).Variables;

  describe('the lifecycle queue', () => {
    const queue = resourceNamed(template, queueId).Properties;

    test('is encrypted, hides a message longer than the function runs, and dead-letters after ten attempts', () => {
      const timeout = resourceNamed(template, functionId).Properties['Timeout'] as number;
      expect(queue).toMatchObject({
        SqsManagedSseEnabled: true,
        RedrivePolicy: { deadLetterTargetArn: getAtt(deadLetterQueueId, 'Arn'), maxReceiveCount: 10 },
      });
      expect(queue['VisibilityTimeout']).toBeGreaterThan(timeout);
      // Shorter than the dead-letter queue's: a moved message keeps its first enqueue time.
      expect(queue['MessageRetentionPeriod']).toBeLessThan(14 * 24 * 3600);
    });

    test('refuses requests without TLS', () => {
      const [policy] = Object.values(resourcesOfType(template, 'AWS::SQS::QueuePolicy')).filter(
        (candidate) => JSON.stringify(candidate.Properties['Queues']) === JSON.stringify([{ Ref: queueId }]),
      );
      expect(JSON.stringify(policy?.Properties['PolicyDocument'])).toContain(
        JSON.stringify({
          Action: 'sqs:*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Resource: getAtt(queueId, 'Arn'),
        }),
      );
    });

    test('dead-letters into an encrypted queue that keeps messages 14 days, with its URL as an output', () => {
      expect(resourceNamed(template, deadLetterQueueId).Properties).toEqual({
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 14 * 24 * 3600,
      });
      template.hasOutput('LifecycleDeadLetterQueueUrl', { Value: { Ref: deadLetterQueueId } });
    });

    test('feeds the lifecycle function, which reports failed messages one by one, five batches at a time', () => {
      const [mapping] = Object.values(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')).filter(
        (resource) => JSON.stringify(resource.Properties['FunctionName']) === JSON.stringify({ Ref: functionId }),
      );
      expect(mapping?.Properties).toMatchObject({
        EventSourceArn: getAtt(queueId, 'Arn'),
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 5 },
      });
    });
  });

  describe('the lifecycle function', () => {
    test('gets the table, every product and the final-metering grace in seconds', () => {
      const { PRODUCTS, ...rest } = variables(functionId);
      expect(JSON.parse(PRODUCTS as string)).toEqual(
        config.products.map(({ code, name, identityModel }) => ({ code, name, identityModel })),
      );
      expect(rest).toEqual({
        SUBSCRIBERS_TABLE: { Ref: subscribersTableId },
        FINAL_METERING_GRACE_SECONDS: String(75 * 60),
        POWERTOOLS_SERVICE_NAME: 'lifecycle',
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_TRACE_ENABLED: 'true',
      });
    });

    test('reads and updates subscribers, updates agreements, puts set-aside notifications, reads entitlements', () => {
      const table = on(getAtt(subscribersTableId, 'Arn'));
      const queue = on(getAtt(queueId, 'Arn'));
      expect(permissionsOf(template, roleId)).toEqual(
        [
          ...writesOwnLogs(lifecycleFunction),
          ...sendsTraces,
          `dynamodb:GetItem on ${table} for items SUBSCRIBER#*`,
          `dynamodb:UpdateItem on ${table} for items SUBSCRIBER#* or AGREEMENT#*`,
          `dynamodb:PutItem on ${table} for items REJECTED#*`,
          'aws-marketplace:GetEntitlements on "*"',
          ...['ChangeMessageVisibility', 'DeleteMessage', 'GetQueueAttributes', 'GetQueueUrl', 'ReceiveMessage'].map(
            (action) => `sqs:${action} on ${queue}`,
          ),
        ].sort(),
      );
    });

    test('may touch the items its code touches and no other kind', () => {
      const may = (action: string, partitionKey: string) =>
        mayOnItem(template, roleId, subscribersTableId, action, partitionKey);
      const subscriber = subscriberKey('legacy:data-suite-legacy-example:customer-1').pk;
      const agreement = agreementKey('agmt-0123456789abcdef').pk;
      const rejected = rejectedMarketplaceMessageKey(new Date('2026-12-01T10:00:00Z'), 'message-1').pk;
      expect(may('dynamodb:GetItem', subscriber)).toBe(true);
      expect(may('dynamodb:UpdateItem', subscriber)).toBe(true);
      expect(may('dynamodb:UpdateItem', agreement)).toBe(true);
      expect(may('dynamodb:PutItem', rejected)).toBe(true);
      expect(may('dynamodb:PutItem', subscriber)).toBe(false);
      expect(may('dynamodb:UpdateItem', rejected)).toBe(false);
      expect(may('dynamodb:GetItem', sessionKey('digest').pk)).toBe(false);
      expect(may('dynamodb:UpdateItem', sessionKey('digest').pk)).toBe(false);
    });
  });

  describe("Marketplace's EventBridge notifications", () => {
    const rules = marketplaceRules(template);

    test('are matched by rules on the default bus that send them to the lifecycle queue', () => {
      expect(rules).toHaveLength(2);
      for (const [, rule] of rules) {
        expect(rule.Properties['EventBusName']).toBeUndefined();
        const targets = rule.Properties['Targets'] as Record<string, unknown>[];
        expect(targets).toHaveLength(1);
        expect(targets[0]?.['Arn']).toEqual(getAtt(queueId, 'Arn'));
      }
    });

    test('filter license events to the license-model products sold here, and let every agreement event through', () => {
      const patterns = rules.map(([, rule]) => rule.Properties['EventPattern']);
      expect(patterns).toEqual(
        expect.arrayContaining([
          {
            source: ['aws.agreement-marketplace'],
            'detail-type': ['License Updated - Manufacturer', 'License Deprovisioned - Manufacturer'],
            detail: { product: { code: [licenseProduct.code] } },
          },
          {
            source: ['aws.agreement-marketplace'],
            'detail-type': expect.arrayContaining(['Purchase Agreement Created - Proposer']) as unknown,
          },
        ]),
      );
    });

    test.each(Object.entries(sampleEvents))(
      'let %s through exactly when the lifecycle function acts on it',
      (_, event) => {
        const matched = rules.some(([, rule]) => eventMatches(rule.Properties['EventPattern'], event));
        const parsed = parseMarketplaceMessage(
          JSON.stringify(event),
          new Date(event.time),
          JSON.parse(variables(functionId)['PRODUCTS'] as string) as Parameters<typeof parseMarketplaceMessage>[2],
        );
        expect(matched).toBe(parsed.outcome === 'notification');
      },
    );

    test('are retried for 24 hours by each rule, then dead-lettered into a queue only those rules may send to', () => {
      const undeliveredId = logicalIdOf(lifecycle.undeliveredEventsQueue ?? lifecycle);
      for (const [ruleId, rule] of rules) {
        expect((rule.Properties['Targets'] as Record<string, unknown>[])[0]).toMatchObject({
          DeadLetterConfig: { Arn: getAtt(undeliveredId, 'Arn') },
          RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 24 * 3600 },
        });
        expect(JSON.stringify(resourcesOfType(template, 'AWS::SQS::QueuePolicy'))).toContain(
          JSON.stringify({ ArnEquals: { 'aws:SourceArn': getAtt(ruleId, 'Arn') } }),
        );
      }
      expect(resourceNamed(template, undeliveredId).Properties).toMatchObject({ SqsManagedSseEnabled: true });
      template.hasOutput('MarketplaceEventsUndeliveredQueueUrl', { Value: { Ref: undeliveredId } });
    });

    test('make the deployment fail, with what to do, in any region but us-east-1', () => {
      const rules = template.toJSON()['Rules'] as Record<string, { Assertions: unknown[] }>;
      const regionRules = Object.values(rules).filter((rule) => JSON.stringify(rule).includes('AWS::Region'));
      expect(regionRules).toEqual([
        {
          Assertions: [
            {
              Assert: { 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] },
              AssertDescription: expect.stringContaining('marketplace.region') as unknown,
            },
          ],
        },
      ]);
    });

    test('need no forwarder: the stack stays environment-agnostic', () => {
      expect(stack.region).toMatch(/^\$\{Token/);
    });
  });

  test('with license products only, subscribes to no SNS topic: EventBridge alone serves them', () => {
    const { template: eventBridgeOnly } = synthesize({ 'marketplace.products': [licenseProduct] });
    eventBridgeOnly.resourceCountIs('AWS::SNS::Subscription', 0);
    expect(JSON.stringify(resourcesOfType(eventBridgeOnly, 'AWS::SQS::QueuePolicy'))).not.toContain(
      'sns.amazonaws.com',
    );
  });

  describe('the final-metering window sweep', () => {
    const sweep = projectFunction(stack, 'FinalMeteringWindows');
    const sweepIds = partsOf(sweep);
    // The stack has other schedules (the metering run's, see metering.test.ts): this is the one that runs the sweep.
    const schedules = rulesOf(template).filter(
      ([, rule]) =>
        rule.Properties['ScheduleExpression'] !== undefined &&
        JSON.stringify(rule.Properties['Targets']).includes(JSON.stringify(getAtt(sweepIds.functionId, 'Arn'))),
    );

    test('runs every five minutes, and Lambda does not retry a failed run (the next run does)', () => {
      expect(schedules).toHaveLength(1);
      const [, schedule] = schedules[0] as [string, CfnResource];
      expect(schedule.Properties).toMatchObject({
        ScheduleExpression: 'rate(5 minutes)',
        State: 'ENABLED',
        Targets: [{ Arn: getAtt(sweepIds.functionId, 'Arn') }],
      });
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: sweepIds.functionId },
        MaximumRetryAttempts: 0,
      });
    });

    test('dead-letters a run EventBridge could not start before the next is due, with an alarm and an output', () => {
      const [, schedule] = schedules[0] as [string, CfnResource];
      const undeliveredId = logicalIdOf(lifecycle.undeliveredSweepsQueue);
      expect((schedule.Properties['Targets'] as Record<string, unknown>[])[0]).toMatchObject({
        DeadLetterConfig: { Arn: getAtt(undeliveredId, 'Arn') },
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 5 * 60 },
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: 'SaasMarketplace-final-metering-windows-not-started',
        Dimensions: [{ Name: 'QueueName', Value: getAtt(undeliveredId, 'QueueName') }],
      });
      template.hasOutput('UndeliveredSweepsQueueUrl', { Value: { Ref: undeliveredId } });
    });

    test('gets the table and the final-metering grace in seconds', () => {
      expect(variables(sweepIds.functionId)).toEqual({
        SUBSCRIBERS_TABLE: { Ref: subscribersTableId },
        FINAL_METERING_GRACE_SECONDS: String(75 * 60),
        POWERTOOLS_SERVICE_NAME: 'final-metering-windows',
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_TRACE_ENABLED: 'true',
      });
    });

    test('queries the ending index and reads and updates subscribers, nothing else', () => {
      const table = getAtt(subscribersTableId, 'Arn');
      expect(permissionsOf(template, sweepIds.roleId)).toEqual(
        [
          ...writesOwnLogs(sweep),
          ...sendsTraces,
          `dynamodb:Query on ${on({ 'Fn::Join': ['', [table, '/index/ending']] })}`,
          `dynamodb:GetItem on ${on(table)} for items SUBSCRIBER#*`,
          `dynamodb:UpdateItem on ${on(table)} for items SUBSCRIBER#*`,
        ].sort(),
      );
      expect(
        mayOnItem(template, sweepIds.roleId, subscribersTableId, 'dynamodb:UpdateItem', agreementKey('a').pk),
      ).toBe(false);
    });
  });
});

describe.each([
  ['SNS and EventBridge', { 'marketplace.lifecycle.eventSources': 'both' }, 2],
  ['SNS only', snsOnly, 0],
] as const)('with %s notifications', (_, overrides, marketplaceRuleCount) => {
  const { stack, template } = synthesize(overrides);
  const queueId = logicalIdOf(stack.lifecycle.queue);
  const subscriptions = Object.values(resourcesOfType(template, 'AWS::SNS::Subscription'));
  const topicArn = (kind: string, code: string) =>
    `arn:aws:sns:us-east-1:287250355862:aws-mp-${kind}-notification-${code}`;

  test("subscribes the lifecycle queue to each legacy product's two topics in us-east-1, enveloped, dead-lettered", () => {
    const undeliveredId = logicalIdOf(stack.lifecycle.undeliveredNotificationsQueue ?? stack.lifecycle);
    expect(
      subscriptions
        .map((subscription) => subscription.Properties)
        .sort((a, b) => String(a['TopicArn']).localeCompare(String(b['TopicArn']))),
    ).toEqual(
      ['entitlement', 'subscription'].map((kind) => ({
        TopicArn: topicArn(kind, legacyProduct.code),
        Protocol: 'sqs',
        Endpoint: getAtt(queueId, 'Arn'),
        Region: 'us-east-1',
        RawMessageDelivery: false,
        RedrivePolicy: { deadLetterTargetArn: getAtt(undeliveredId, 'Arn') },
      })),
    );
    template.hasOutput('UndeliveredNotificationsQueueUrl', { Value: { Ref: undeliveredId } });
  });

  test('lets those topics, and no other, send to their dead-letter queue', () => {
    const undeliveredId = logicalIdOf(stack.lifecycle.undeliveredNotificationsQueue ?? stack.lifecycle);
    const statements = Object.values(resourcesOfType(template, 'AWS::SQS::QueuePolicy'))
      .filter((policy) => JSON.stringify(policy.Properties['Queues']) === JSON.stringify([{ Ref: undeliveredId }]))
      .flatMap((policy) => (policy.Properties['PolicyDocument'] as { Statement: Record<string, unknown>[] }).Statement)
      .filter((statement) => statement['Effect'] === 'Allow');
    const conditions = statements.map((statement) => statement['Condition']);
    expect(conditions).toHaveLength(2);
    expect(conditions).toEqual(
      expect.arrayContaining(
        ['entitlement', 'subscription'].map((kind) => ({
          ArnEquals: { 'aws:SourceArn': topicArn(kind, legacyProduct.code) },
        })),
      ),
    );
  });

  test('lets those topics, and no other, send to the queue', () => {
    const statements = Object.values(resourcesOfType(template, 'AWS::SQS::QueuePolicy'))
      .filter((policy) => JSON.stringify(policy.Properties['Queues']) === JSON.stringify([{ Ref: queueId }]))
      .flatMap((policy) => (policy.Properties['PolicyDocument'] as { Statement: Record<string, unknown>[] }).Statement)
      .filter((statement) => JSON.stringify(statement['Principal']).includes('sns.amazonaws.com'));
    expect(statements).toEqual(
      expect.arrayContaining(
        ['subscription', 'entitlement'].map((kind) => ({
          Effect: 'Allow',
          Action: 'sqs:SendMessage',
          Principal: { Service: 'sns.amazonaws.com' },
          Resource: getAtt(queueId, 'Arn'),
          Condition: { ArnEquals: { 'aws:SourceArn': topicArn(kind, legacyProduct.code) } },
        })),
      ),
    );
    expect(statements).toHaveLength(2);
  });

  test(`has ${marketplaceRuleCount} rules for Marketplace's EventBridge events, and a region guard: its topics are in us-east-1`, () => {
    expect(marketplaceRules(template)).toHaveLength(marketplaceRuleCount);
    expect(JSON.stringify(template.toJSON()['Rules'])).toContain('AWS::Region');
    expect(stack.lifecycle.undeliveredEventsQueue === undefined).toBe(marketplaceRuleCount === 0);
  });
});

test("uses a legacy product's configured topics instead of Marketplace's defaults", () => {
  const topics = {
    subscription: 'arn:aws:sns:us-east-1:123456789012:my-subscription-topic',
    entitlement: 'arn:aws:sns:us-east-1:123456789012:my-entitlement-topic',
  };
  const products = config.products.map((product) =>
    product.identityModel === 'legacy' ? { ...product, snsTopicArns: topics } : product,
  );
  const { template } = synthesize({ 'marketplace.lifecycle.eventSources': 'both', 'marketplace.products': products });
  const arns = Object.values(resourcesOfType(template, 'AWS::SNS::Subscription')).map(
    (subscription) => subscription.Properties['TopicArn'],
  );
  expect(arns.sort()).toEqual(Object.values(topics).sort());
});

test('with only legacy products, has no license rule, and still records agreements', () => {
  const products = config.products.filter((product) => product.identityModel === 'legacy');
  const { template } = synthesize({ 'marketplace.products': products });
  const patterns = marketplaceRules(template).map(([, rule]) => JSON.stringify(rule.Properties['EventPattern']));
  expect(patterns).toHaveLength(1);
  expect(patterns[0]).toContain('Purchase Agreement Created');
  expect(patterns[0]).not.toContain('License');
});

describe('with the region eu-west-1', () => {
  const { app, stack, forwarder, template }: Synthesized = synthesize({ 'marketplace.region': 'eu-west-1' });
  if (forwarder === undefined) throw new Error('no forwarder stack');
  const forwarderTemplate = Template.fromStack(forwarder);
  const forwardingRules = rulesOf(forwarderTemplate);
  const destinationBus = {
    'Fn::Join': ['', ['arn:aws:events:eu-west-1:', { Ref: 'AWS::AccountId' }, ':event-bus/default']],
  };

  test('deploys the stack to eu-west-1, with no region guard', () => {
    expect(stack.region).toBe('eu-west-1');
    expect(JSON.stringify(template.toJSON()['Rules'])).not.toContain('AWS::Region');
  });

  test('adds a forwarder stack in us-east-1, deployed after the main stack', () => {
    expect(
      app.node.children
        .filter((child) => Stack.isStack(child))
        .map((child) => child.node.id)
        .sort(),
    ).toEqual(['SaasMarketplace', FORWARDER_STACK_ID]);
    expect(forwarder.region).toBe('us-east-1');
    expect(forwarder.dependencies).toEqual([stack]);
  });

  test("forwards exactly what the main stack's rules match, to the default bus of eu-west-1", () => {
    const patterns = (rules: [string, CfnResource][]) => rules.map(([, rule]) => rule.Properties['EventPattern']);
    expect(patterns(forwardingRules)).toEqual(patterns(marketplaceRules(template)));
    for (const [, rule] of forwardingRules) {
      expect(rule.Properties['EventBusName']).toBeUndefined();
      expect((rule.Properties['Targets'] as Record<string, unknown>[])[0]?.['Arn']).toEqual(destinationBus);
    }
  });

  test('forwards through a role that may put events on that bus and nowhere else', () => {
    const roleIds = new Set(
      forwardingRules.map(([, rule]) => {
        const [target] = rule.Properties['Targets'] as { RoleArn: { 'Fn::GetAtt': [string, string] } }[];
        return target?.RoleArn['Fn::GetAtt'][0] ?? '';
      }),
    );
    expect(roleIds.size).toBe(1);
    const [roleId] = [...roleIds] as [string];
    expect(resourceNamed(forwarderTemplate, roleId).Properties['AssumeRolePolicyDocument']).toMatchObject({
      Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' } }],
    });
    expect(permissionsOf(forwarderTemplate, roleId)).toEqual([`events:PutEvents on ${on(destinationBus)}`]);
  });

  test('dead-letters what it could not forward into an encrypted queue with an alarm, and outputs its URL', () => {
    const queueId = logicalIdOf(forwarder.node.findChild('UnforwardedEventsQueue'));
    for (const [, rule] of forwardingRules) {
      expect((rule.Properties['Targets'] as Record<string, unknown>[])[0]?.['DeadLetterConfig']).toEqual({
        Arn: getAtt(queueId, 'Arn'),
      });
    }
    expect(resourceNamed(forwarderTemplate, queueId).Properties).toMatchObject({ SqsManagedSseEnabled: true });
    forwarderTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: `${FORWARDER_STACK_ID}-marketplace-events-not-forwarded`,
      MetricName: 'ApproximateNumberOfMessagesVisible',
    });
    forwarderTemplate.hasOutput('UnforwardedEventsQueueUrl', { Value: { Ref: queueId } });
  });
});

test('with the region us-east-1, needs no forwarder and no region guard', () => {
  const { forwarder, template } = synthesize({ 'marketplace.region': 'us-east-1' });
  expect(forwarder).toBeUndefined();
  expect(JSON.stringify(template.toJSON()['Rules'])).not.toContain('AWS::Region');
});

describe.each([
  ['both notification families', { 'marketplace.region': 'eu-west-1' }],
  ['SNS notifications only', { ...snsOnly, 'marketplace.region': 'eu-west-1' }],
])('with the region eu-west-1 and %s, the legacy topics', (_, overrides) => {
  const { stack, forwarder, template } = synthesize(overrides);
  if (forwarder === undefined) throw new Error('no forwarder stack');
  const forwarderTemplate = Template.fromStack(forwarder);
  const queueName = 'SaasMarketplace-lifecycle';
  const topicArn = (kind: string) =>
    `arn:aws:sns:us-east-1:287250355862:aws-mp-${kind}-notification-${legacyProduct.code}`;

  test('are subscribed from the forwarder stack in us-east-1, where their dead-letter queue must be', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    const undeliveredId = logicalIdOf(forwarder.node.findChild('UndeliveredNotificationsQueue'));
    const subscriptions = Object.values(resourcesOfType(forwarderTemplate, 'AWS::SNS::Subscription'))
      .map((subscription) => subscription.Properties)
      .sort((a, b) => String(a['TopicArn']).localeCompare(String(b['TopicArn'])));
    expect(subscriptions).toEqual(
      ['entitlement', 'subscription'].map((kind) => ({
        TopicArn: topicArn(kind),
        Protocol: 'sqs',
        Endpoint: {
          'Fn::Join': ['', ['arn:aws:sqs:eu-west-1:', { Ref: 'AWS::AccountId' }, `:${queueName}`]],
        },
        RawMessageDelivery: false,
        RedrivePolicy: { deadLetterTargetArn: getAtt(undeliveredId, 'Arn') },
      })),
    );
    forwarderTemplate.hasOutput('UndeliveredNotificationsQueueUrl', { Value: { Ref: undeliveredId } });
  });

  test('may send to the lifecycle queue, named so that the forwarder can address it', () => {
    const queueId = logicalIdOf(stack.lifecycle.queue);
    expect(resourceNamed(template, queueId).Properties['QueueName']).toBe(queueName);
    const statements = Object.values(resourcesOfType(template, 'AWS::SQS::QueuePolicy'))
      .filter((policy) => JSON.stringify(policy.Properties['Queues']) === JSON.stringify([{ Ref: queueId }]))
      .flatMap((policy) => (policy.Properties['PolicyDocument'] as { Statement: Record<string, unknown>[] }).Statement)
      .filter((statement) => JSON.stringify(statement['Principal']).includes('sns.amazonaws.com'));
    expect(statements.map((statement) => statement['Condition'])).toEqual(
      ['subscription', 'entitlement'].map((kind) => ({ ArnEquals: { 'aws:SourceArn': topicArn(kind) } })),
    );
  });

  test('need no region guard in the main stack, deployed to eu-west-1', () => {
    expect(JSON.stringify(template.toJSON()['Rules'])).not.toContain('AWS::Region');
  });
});
