import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { describe, expect, test } from 'vitest';
import { SELLER_EVENT } from '../../contracts/index.ts';
import { SellerEvents } from '../../lib/seller-events.ts';
import { publishedEntries, subscribersStream } from './subscribers-stream.ts';
import { partsOf } from './iam.ts';
import {
  getAtt,
  logicalIdOf,
  projectFunction,
  resourceNamed,
  resourcesOfType,
  synthesize,
  type CfnResource,
} from './synthesis.ts';

const adminEmail = 'admin@example.com';
/** Not the default, so that the rule must take the source from the configuration. */
const eventSource = 'acme.saas-marketplace';

/** The rules on the seller bus (the lifecycle's rules are on the default bus). */
function rulesOnBus(template: Template, busId: string): [string, CfnResource][] {
  return Object.entries(resourcesOfType(template, 'AWS::Events::Rule')).filter(
    ([, rule]) => JSON.stringify(rule.Properties['EventBusName']) === JSON.stringify({ Ref: busId }),
  );
}

/** Whether the rule's targets include the resource with this ARN. */
function targets(rule: CfnResource, arn: unknown): boolean {
  return (rule.Properties['Targets'] as { Arn: unknown }[]).some(
    (target) => JSON.stringify(target.Arn) === JSON.stringify(arn),
  );
}

function single(resources: Record<string, CfnResource>): [string, CfnResource] {
  const entries = Object.entries(resources);
  if (entries.length !== 1) throw new Error(`expected one resource, found ${entries.length}`);
  return entries[0] as [string, CfnResource];
}

describe('without an admin email', () => {
  const { stack, template } = synthesize();
  const busId = logicalIdOf(stack.sellerEvents.bus);
  const finalMeteringArn = getAtt(partsOf(projectFunction(stack, 'FinalMetering')).functionId, 'Arn');

  test('has the seller bus and outputs its name and ARN', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.hasOutput('SellerEventBusName', { Value: { Ref: busId } });
    template.hasOutput('SellerEventBusArn', { Value: getAtt(busId, 'Arn') });
  });

  test("sends no email: no topic or key but the alarms', no rule on the seller bus but the one starting final metering, no admin email queue or output", () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.resourceCountIs('AWS::KMS::Key', 1);
    expect(stack.sellerEvents.node.tryFindChild('AdminNotifications')).toBeUndefined();
    // The Subscriber Ending rule that starts final metering (see metering.test.ts) is the one rule on the bus.
    const [[, rule] = ['', undefined], ...others] = rulesOnBus(template, busId);
    expect(others).toEqual([]);
    expect(rule?.Properties['EventPattern']).toMatchObject({ 'detail-type': [SELLER_EVENT.ending] });
    expect(rule?.Properties['Targets']).toEqual([expect.objectContaining({ Arn: finalMeteringArn })]);
    expect(stack.sellerEvents.adminEmailDeadLetterQueue).toBeUndefined();
    expect(Object.keys(template.findOutputs('AdminEmailDeadLetterQueueUrl'))).toEqual([]);
  });
});

test("the Subscriber Ending hook hands final metering each Subscriber Ending event of this deployment's source", () => {
  const stack = new Stack(new App(), 'HookProbe');
  const sellerEvents = new SellerEvents(stack, 'SellerEvents', { events: { source: eventSource }, notifications: {} });
  const finalFlush = new Queue(stack, 'FinalFlush', { enforceSSL: true });
  sellerEvents.onSubscriberEnding('FinalFlush', new SqsQueue(finalFlush));
  const template = Template.fromStack(stack);
  const busId = logicalIdOf(sellerEvents.bus);
  const [, rule] = single(Object.fromEntries(rulesOnBus(template, busId)));
  expect(rule.Properties['EventPattern']).toEqual({ source: [eventSource], 'detail-type': [SELLER_EVENT.ending] });
  expect(rule.Properties['Targets']).toEqual([
    expect.objectContaining({ Arn: getAtt(logicalIdOf(finalFlush), 'Arn') }),
  ]);
});

describe('with an admin email', () => {
  const { stack, template } = synthesize({
    'marketplace.notifications.adminEmail': adminEmail,
    'marketplace.events.source': eventSource,
  });
  const busId = logicalIdOf(stack.sellerEvents.bus);
  const topicId = logicalIdOf(stack.sellerEvents.node.findChild('AdminNotifications'));
  const topic = resourceNamed(template, topicId);
  const finalMeteringArn = getAtt(partsOf(projectFunction(stack, 'FinalMetering')).functionId, 'Arn');
  // The bus has the admin email rule and the rule that starts final metering: the one that emails targets the topic.
  const [ruleId, rule] = single(
    Object.fromEntries(rulesOnBus(template, busId).filter(([, candidate]) => targets(candidate, { Ref: topicId }))),
  );
  const target = (rule.Properties['Targets'] as Record<string, unknown>[])[0] ?? {};
  const keyId = (topic.Properties['KmsMasterKeyId'] as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];

  test("has two rules on the seller bus: this one, with the topic as its one target, and final metering's", () => {
    expect(rule.Properties['Targets']).toHaveLength(1);
    const others = rulesOnBus(template, busId).filter(([id]) => id !== ruleId);
    expect(others).toHaveLength(1);
    const [[, finalFlush] = ['', undefined]] = others;
    expect(finalFlush?.Properties['EventPattern']).toEqual({
      source: [eventSource],
      'detail-type': [SELLER_EVENT.ending],
    });
    expect(finalFlush?.Properties['Targets']).toEqual([expect.objectContaining({ Arn: finalMeteringArn })]);
  });

  test('subscribes the admin email to a topic, with the rule target dead-letter queue for emails SNS cannot deliver', () => {
    const queueArn = (target['DeadLetterConfig'] as { Arn: unknown }).Arn;
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: adminEmail,
      TopicArn: { Ref: topicId },
      RedrivePolicy: { deadLetterTargetArn: queueArn },
    });
  });

  test('encrypts the topic with a rotating key of its own and refuses publishing without TLS', () => {
    expect(resourceNamed(template, keyId).Properties['EnableKeyRotation']).toBe(true);
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topicId }],
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Deny',
            Action: 'sns:Publish',
            Principal: '*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ],
      },
    });
  });

  test('sends exactly the Subscriber Registered events of the configured source on the seller bus to the topic', () => {
    expect(rule.Properties).toMatchObject({
      EventBusName: { Ref: busId },
      EventPattern: { source: [eventSource], 'detail-type': [SELLER_EVENT.registered] },
      State: 'ENABLED',
    });
    expect(target['Arn']).toEqual({ Ref: topicId });
  });

  test('matches the event the registration notifier publishes', async () => {
    const [entry] = await publishedEntries(
      [(await subscribersStream()).announced['a registration completed']],
      eventSource,
    );
    const event = {
      source: entry?.Source,
      'detail-type': entry?.DetailType,
      detail: JSON.parse(entry?.Detail ?? '{}') as unknown,
    };
    const pattern = rule.Properties['EventPattern'] as Record<string, unknown[]>;
    for (const [field, accepted] of Object.entries(pattern)) {
      expect(accepted, field).toContain(event[field as keyof typeof event]);
    }
  });

  test("emails the event's detail as JSON, never through a template that would paste the buyer's text unescaped", () => {
    expect(target['InputPath']).toBe('$.detail');
    expect(target['InputTransformer']).toBeUndefined();
    expect(target['Input']).toBeUndefined();
  });

  test('outputs the URL of its dead-letter queue', () => {
    const queueArn = (target['DeadLetterConfig'] as { Arn: { 'Fn::GetAtt': [string, string] } }).Arn;
    template.hasOutput('AdminEmailDeadLetterQueueUrl', { Value: { Ref: queueArn['Fn::GetAtt'][0] } });
  });

  test('publishes through a role that may publish to this topic only, with retries and a dead-letter queue', () => {
    expect(target['RetryPolicy']).toEqual({
      MaximumRetryAttempts: expect.any(Number) as unknown,
      MaximumEventAgeInSeconds: expect.any(Number) as unknown,
    });
    const roleId = (target['RoleArn'] as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: roleId }],
      PolicyDocument: {
        Statement: [
          { Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: topicId } },
          { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: getAtt(keyId, 'Arn') },
        ],
      },
    });
    template.resourcePropertiesCountIs('AWS::SNS::TopicPolicy', { Topics: [{ Ref: topicId }] }, 1);
    expect(JSON.stringify(resourcesOfType(template, 'AWS::SNS::TopicPolicy'))).not.toContain('events.amazonaws.com');
  });

  test('dead-letters into an encrypted, TLS-only queue only this rule and the topic may send to', () => {
    const queueArn = (target['DeadLetterConfig'] as { Arn: { 'Fn::GetAtt': [string, string] } }).Arn;
    const queueId = queueArn['Fn::GetAtt'][0];
    expect(resourceNamed(template, queueId).Properties).toMatchObject({ SqsManagedSseEnabled: true });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: [
          { Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
          {
            Effect: 'Allow',
            Action: 'sqs:SendMessage',
            Principal: { Service: 'sns.amazonaws.com' },
            Condition: { ArnEquals: { 'aws:SourceArn': { Ref: topicId } } },
          },
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
});
