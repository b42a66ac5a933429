/**
 * Alarms that reach someone: every alarm of every stack notifies its stack's alarm topic (encrypted, TLS only, open to
 * that stack's alarms alone) when it goes off and when it clears, and the seller's own topic beside it where
 * CloudWatch can reach it; the seller's email is subscribed, with a dead-letter queue for what bounces.
 */
import { Duration, type Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Alarm, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { describe, expect, test } from 'vitest';
import { buildApp } from '../../lib/app.ts';
import type { AlarmTopic } from '../../lib/alarm-topic.ts';
import {
  alarmRecipients,
  configurationVariants,
  exampleContext,
  getAtt,
  logicalIdOf,
  resourceNamed,
  resourcesOfType,
  synthesize,
} from './synthesis.ts';

interface AlarmActions {
  readonly AlarmName: string;
  readonly AlarmActions?: unknown[];
  readonly OKActions?: unknown[];
}

function alarmsOf(template: Template): AlarmActions[] {
  return Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm')).map(
    (alarm) => alarm.Properties as unknown as AlarmActions,
  );
}

/** Each stack of the app with its template and its alarm topic's logical id. */
function stacksOf(synthesized: ReturnType<typeof synthesize>) {
  const { stack, forwarder, template } = synthesized;
  const topicIdOf = (alarmTopic: AlarmTopic) => logicalIdOf(alarmTopic.topic);
  return [
    { stack: stack as Stack, template, topicId: topicIdOf(stack.alarmTopic) },
    ...(forwarder === undefined
      ? []
      : [
          {
            stack: forwarder as Stack,
            template: Template.fromStack(forwarder),
            topicId: topicIdOf(forwarder.alarmTopic),
          },
        ]),
  ];
}

describe.each(Object.entries(configurationVariants))('with %s', (_, overrides) => {
  const stacks = stacksOf(synthesize(overrides));

  test.each(stacks.map((each) => [each.stack.stackName, each] as const))(
    'every alarm of %s notifies its alarm topic when it goes off and when it clears',
    (_stackName, { template, topicId }) => {
      const alarms = alarmsOf(template);
      expect(alarms.length).toBeGreaterThan(0);
      for (const alarm of alarms) {
        expect(alarm.AlarmActions, alarm.AlarmName).toContainEqual({ Ref: topicId });
        expect(alarm.OKActions, alarm.AlarmName).toContainEqual({ Ref: topicId });
      }
    },
  );
});

describe('with an alarm email and a topic of the seller in the region of the stack', () => {
  const { stack, template } = synthesize(configurationVariants['an alarm email and topic']);
  const sellerTopic = 'arn:aws:sns:us-east-1:123456789012:pager';
  const topicId = logicalIdOf(stack.alarmTopic.topic);
  const keyId = logicalIdOf(stack.alarmTopic.node.findChild('Key'));

  test('every alarm notifies both topics, on ALARM and on OK', () => {
    for (const alarm of alarmsOf(template)) {
      expect(alarm.AlarmActions, alarm.AlarmName).toEqual([{ Ref: topicId }, sellerTopic]);
      expect(alarm.OKActions, alarm.AlarmName).toEqual([{ Ref: topicId }, sellerTopic]);
    }
  });

  test("guards the deployment's region: the seller's topic must be in it", () => {
    const rules = template.toJSON()['Rules'] as Record<string, { Assertions: { Assert: unknown }[] }>;
    expect(Object.values(rules).map((rule) => rule.Assertions[0]?.Assert)).toContainEqual({
      'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'],
    });
    expect(JSON.stringify(rules)).toContain('marketplace.observability.alarmTopicArn is a topic in us-east-1');
  });

  test('subscribes the email, with a dead-letter queue (and its alarm) for what SNS cannot deliver', () => {
    const deadLetterQueueId = logicalIdOf(stack.alarmTopic.node.findChild('EmailDeadLetterQueue'));
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
      TopicArn: { Ref: topicId },
      RedrivePolicy: { deadLetterTargetArn: getAtt(deadLetterQueueId, 'Arn') },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'SaasMarketplace-alarm-email-undelivered',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(deadLetterQueueId, 'QueueName') }],
    });
    template.hasOutput('AlarmEmailDeadLetterQueueUrl', { Value: { Ref: deadLetterQueueId } });
  });

  test('encrypts the topic with a rotating key of its own and refuses publishing without TLS', () => {
    expect(resourceNamed(template, topicId).Properties['KmsMasterKeyId']).toEqual(getAtt(keyId, 'Arn'));
    expect(resourceNamed(template, keyId).Properties['EnableKeyRotation']).toBe(true);
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topicId }],
      PolicyDocument: {
        Statement: [
          { Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
          Match.anyValue(),
        ],
      },
    });
  });

  test("lets CloudWatch publish for this stack's alarms only, and use the topic's key", () => {
    const fromThisStacksAlarms = {
      StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
      ArnLike: {
        'aws:SourceArn': {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':cloudwatch:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':alarm:SaasMarketplace-*',
            ],
          ],
        },
      },
    };
    const topicPolicy = Object.values(resourcesOfType(template, 'AWS::SNS::TopicPolicy')).find(
      (policy) => JSON.stringify(policy.Properties['Topics']) === JSON.stringify([{ Ref: topicId }]),
    );
    expect(topicPolicy?.Properties['PolicyDocument']).toMatchObject({
      Statement: expect.arrayContaining([
        {
          Effect: 'Allow',
          Action: 'sns:Publish',
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Resource: { Ref: topicId },
          Condition: fromThisStacksAlarms,
          Sid: expect.any(String) as unknown,
        },
      ]) as unknown,
    });
    expect(resourceNamed(template, keyId).Properties['KeyPolicy']).toMatchObject({
      Statement: expect.arrayContaining([
        {
          Effect: 'Allow',
          Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Resource: '*',
        },
      ]) as unknown,
    });
    const keyStatements = (resourceNamed(template, keyId).Properties['KeyPolicy'] as { Statement: object[] }).Statement;
    const cloudWatchKeyGrant = keyStatements.find((statement) => JSON.stringify(statement).includes('cloudwatch'));
    expect(cloudWatchKeyGrant).not.toHaveProperty('Condition');
  });

  test('outputs the topic, for more subscribers', () => {
    template.hasOutput('AlarmTopicArn', { Value: { Ref: topicId } });
  });
});

describe("in eu-west-1, with the seller's topic there", () => {
  const synthesized = synthesize({ 'marketplace.region': 'eu-west-1', ...alarmRecipients });
  const [main, forwarder] = stacksOf(synthesized);
  const sellerTopic = alarmRecipients['marketplace.observability.alarmTopicArn'];

  test("the main stack's alarms notify it, with no region guard (the configuration checked the region)", () => {
    for (const alarm of alarmsOf(main?.template ?? Template.fromJSON({}))) {
      expect(alarm.AlarmActions, alarm.AlarmName).toContain(sellerTopic);
    }
    expect(JSON.stringify(main?.template.toJSON()['Rules'] ?? {})).not.toContain('AWS::Region');
  });

  test("the us-east-1 forwarder's alarms cannot (CloudWatch notifies its own region's topics): its own topic only", () => {
    const alarms = alarmsOf(forwarder?.template ?? Template.fromJSON({}));
    expect(alarms.map((alarm) => alarm.AlarmName).sort()).toEqual([
      'SaasMarketplaceEventForwarder-alarm-email-undelivered',
      'SaasMarketplaceEventForwarder-legacy-notifications-undelivered',
      'SaasMarketplaceEventForwarder-marketplace-events-not-forwarded',
    ]);
    for (const alarm of alarms) {
      expect(alarm.AlarmActions, alarm.AlarmName).toEqual([{ Ref: forwarder?.topicId }]);
      expect(alarm.OKActions, alarm.AlarmName).toEqual([{ Ref: forwarder?.topicId }]);
    }
    forwarder?.template.hasOutput('AlarmTopicArn', { Value: { Ref: forwarder.topicId } });
    expect(Object.keys(forwarder?.template.findOutputs('AlarmEmailDeadLetterQueueUrl') ?? {})).toEqual([
      'AlarmEmailDeadLetterQueueUrl',
    ]);
  });
});

test('an alarm added to the stack anywhere, later, notifies the alarm topic without being told to', () => {
  const { stack } = buildApp(exampleContext());
  new Alarm(stack.metering, 'ProbeAlarm', {
    metric: new Metric({ namespace: 'Probe', metricName: 'Probe', period: Duration.minutes(5) }),
    threshold: 1,
    evaluationPeriods: 1,
  });
  const template = Template.fromStack(stack);
  const probe = alarmsOf(template).find((alarm) => alarm.AlarmName === undefined);
  expect(probe?.AlarmActions).toEqual([{ Ref: logicalIdOf(stack.alarmTopic.topic) }]);
  expect(probe?.OKActions).toEqual([{ Ref: logicalIdOf(stack.alarmTopic.topic) }]);
});

/** The synth warnings of a stack that say its alarms reach no one. */
function unheardAlarmsWarnings(stack: Stack): string[] {
  return Annotations.fromStack(stack)
    .findWarning('*', Match.stringLikeRegexp('reach no one'))
    .map((warning) => warning.entry.data as string);
}

describe('who hears the alarms: a synth warning when no one does', () => {
  test('neither alarmEmail nor alarmTopicArn: each stack warns, naming both settings', () => {
    const { stack, forwarder } = synthesize({ 'marketplace.region': 'eu-west-1' });
    for (const each of [stack, forwarder!]) {
      const warnings = unheardAlarmsWarnings(each);
      expect(warnings, each.stackName).toHaveLength(1);
      expect(warnings[0]).toContain(
        `The alarms of ${each.stackName} reach no one: neither marketplace.observability.alarmEmail nor ` +
          'marketplace.observability.alarmTopicArn is set',
      );
      expect(warnings[0]).toContain('[ack: saas-marketplace:alarms-reach-no-one]');
    }
  });

  test('either one set: no warning', () => {
    // With no region set, the stack deploys to us-east-1, and a topic of the seller's must be there too.
    const inUsEast1 = {
      ...alarmRecipients,
      'marketplace.observability.alarmTopicArn': 'arn:aws:sns:us-east-1:123456789012:pager',
    };
    for (const recipient of Object.entries(inUsEast1)) {
      const { stack } = synthesize(Object.fromEntries([recipient]));
      expect(unheardAlarmsWarnings(stack), recipient[0]).toEqual([]);
    }
  });

  test("a topic the us-east-1 forwarder cannot notify and no email: the forwarder warns, the main stack doesn't", () => {
    const { stack, forwarder } = synthesize({
      'marketplace.region': 'eu-west-1',
      'marketplace.observability.alarmTopicArn': alarmRecipients['marketplace.observability.alarmTopicArn'],
    });
    expect(unheardAlarmsWarnings(stack)).toEqual([]);
    expect(unheardAlarmsWarnings(forwarder!).join()).toContain(
      'alarmTopicArn (arn:aws:sns:eu-west-1:123456789012:pager) is in another region than us-east-1',
    );
  });
});
