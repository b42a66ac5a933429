/**
 * Nothing dropped between AWS services: every asynchronous hop of every stack, in every configuration, has a
 * dead-letter destination, and every dead-letter queue is encrypted and alarmed. The hops are read from the template,
 * so a subscription, rule target or event source mapping added later is walked too: SNS subscriptions (a redrive
 * policy), EventBridge rule targets (a dead-letter config), event source mappings (an on-failure destination, or for a
 * queue, the queue's own redrive policy).
 */
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { configurationVariants, resourcesOfType, synthesize, type CfnResource } from './synthesis.ts';

type Reference = { 'Fn::GetAtt'?: [string, string]; Ref?: string };

interface Hop {
  /** What sends: `<resource type> <logical id>` (and a rule's target id). */
  readonly hop: string;
  /** The logical id of the queue its failures go to, or undefined when they go nowhere. */
  readonly deadLetterQueueId: string | undefined;
}

/** The logical id a `Fn::GetAtt [id, 'Arn']` names, undefined for anything else (a literal ARN, none at all). */
function arnOf(value: unknown): string | undefined {
  const reference = value as Reference | undefined;
  return reference?.['Fn::GetAtt']?.[1] === 'Arn' ? reference['Fn::GetAtt'][0] : undefined;
}

function hopsOf(template: Template): Hop[] {
  const queues = resourcesOfType(template, 'AWS::SQS::Queue');
  const subscriptions = Object.entries(resourcesOfType(template, 'AWS::SNS::Subscription')).map(([id, resource]) => ({
    hop: `AWS::SNS::Subscription ${id}`,
    deadLetterQueueId: arnOf(
      (resource.Properties['RedrivePolicy'] as { deadLetterTargetArn?: unknown } | undefined)?.deadLetterTargetArn,
    ),
  }));
  const ruleTargets = Object.entries(resourcesOfType(template, 'AWS::Events::Rule')).flatMap(([id, rule]) =>
    (rule.Properties['Targets'] as Record<string, unknown>[]).map((target) => ({
      hop: `AWS::Events::Rule ${id} target ${String(target['Id'])}`,
      deadLetterQueueId: arnOf((target['DeadLetterConfig'] as { Arn?: unknown } | undefined)?.Arn),
    })),
  );
  const mappings = Object.entries(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')).map(([id, mapping]) => {
    const sourceQueue: CfnResource | undefined = queues[arnOf(mapping.Properties['EventSourceArn']) ?? ''];
    const onFailure = (mapping.Properties['DestinationConfig'] as { OnFailure?: { Destination?: unknown } } | undefined)
      ?.OnFailure?.Destination;
    return {
      hop: `AWS::Lambda::EventSourceMapping ${id}`,
      deadLetterQueueId:
        sourceQueue === undefined
          ? arnOf(onFailure)
          : arnOf(
              (sourceQueue.Properties['RedrivePolicy'] as { deadLetterTargetArn?: unknown } | undefined)
                ?.deadLetterTargetArn,
            ),
    };
  });
  return [...subscriptions, ...ruleTargets, ...mappings];
}

/** The queues the stack's alarms watch for visible messages, by logical id. */
function alarmedQueues(template: Template): string[] {
  return Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm'))
    .filter((alarm) => alarm.Properties['MetricName'] === 'ApproximateNumberOfMessagesVisible')
    .flatMap((alarm) => alarm.Properties['Dimensions'] as { Name: string; Value: Reference }[])
    .filter((dimension) => dimension.Name === 'QueueName')
    .map((dimension) => dimension.Value['Fn::GetAtt']?.[0] ?? '');
}

describe.each(Object.entries(configurationVariants))('with %s', (_, overrides) => {
  const { stack, forwarder } = synthesize(overrides);
  const templates = [stack, ...(forwarder === undefined ? [] : [forwarder])].map(
    (each) => [each.stackName, Template.fromStack(each)] as const,
  );

  describe.each(templates)('the stack %s', (_stackName, template) => {
    const hops = hopsOf(template);
    const queues = resourcesOfType(template, 'AWS::SQS::Queue');

    test('dead-letters every subscription, rule target and event source mapping into a queue of its own stack', () => {
      expect(hops.length).toBeGreaterThan(0);
      for (const { hop, deadLetterQueueId } of hops) {
        expect(deadLetterQueueId, hop).toBeDefined();
        expect(queues[deadLetterQueueId ?? ''], hop).toBeDefined();
      }
    });

    test('encrypts every dead-letter queue, keeps its messages 14 days and alarms on the first one', () => {
      const alarmed = alarmedQueues(template);
      for (const deadLetterQueueId of new Set(hops.map((hop) => hop.deadLetterQueueId ?? ''))) {
        expect(queues[deadLetterQueueId]?.Properties, deadLetterQueueId).toMatchObject({
          SqsManagedSseEnabled: true,
          MessageRetentionPeriod: 14 * 24 * 3600,
        });
        expect(alarmed, deadLetterQueueId).toContain(deadLetterQueueId);
      }
    });
  });
});

test('the walk catches a hop without a dead-letter destination', () => {
  const template = Template.fromJSON({
    Resources: {
      Queue: { Type: 'AWS::SQS::Queue', Properties: {} },
      Subscription: { Type: 'AWS::SNS::Subscription', Properties: { Protocol: 'sqs' } },
      Rule: { Type: 'AWS::Events::Rule', Properties: { Targets: [{ Id: 'Target0', Arn: 'arn' }] } },
      Mapping: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: { EventSourceArn: { 'Fn::GetAtt': ['Queue', 'Arn'] } },
      },
    },
  });
  expect(hopsOf(template)).toEqual([
    { hop: 'AWS::SNS::Subscription Subscription', deadLetterQueueId: undefined },
    { hop: 'AWS::Events::Rule Rule target Target0', deadLetterQueueId: undefined },
    { hop: 'AWS::Lambda::EventSourceMapping Mapping', deadLetterQueueId: undefined },
  ]);
});
