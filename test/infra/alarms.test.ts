import { describe, expect, test } from 'vitest';
import type { IConstruct } from 'constructs';
import {
  logicalIdOf,
  projectFunction,
  resourcesOfType,
  snsOnly,
  synthesize,
  webhookUrl,
  type CfnResource,
  type FunctionId,
} from './synthesis.ts';

interface AlarmProperties {
  readonly AlarmName: string;
  readonly AlarmDescription: string;
  readonly Namespace: string;
  readonly MetricName: string;
  readonly Dimensions: { Name: string; Value: unknown }[];
  readonly Statistic: string;
  readonly ComparisonOperator: string;
  readonly Threshold: number;
  readonly EvaluationPeriods: number;
  readonly TreatMissingData: string;
}

const alarmsOf = (resources: Record<string, CfnResource>) =>
  Object.values(resources).map((resource) => resource.Properties as unknown as AlarmProperties);

/**
 * What an alarm watches, as `<alarm name>: <statistic> <metric> of <subject> > <threshold>`. The subject is the logical
 * id of the resource an AWS metric is dimensioned by, or, for a metric the stack's own code publishes (a literal
 * dimension value), `<namespace> <dimension>=<value>`.
 */
function watches(alarm: AlarmProperties): string {
  const subject = alarm.Dimensions.map(({ Name, Value }) => {
    if (typeof Value === 'string') return `${alarm.Namespace} ${Name}=${Value}`;
    const reference = Value as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
    return reference.Ref ?? reference['Fn::GetAtt']?.[0];
  }).join(', ');
  return `${alarm.AlarmName}: ${alarm.Statistic} ${alarm.MetricName} of ${subject} > ${alarm.Threshold}`;
}

describe('with an admin email and a webhook', () => {
  const { stack, template } = synthesize({
    'marketplace.notifications.adminEmail': 'admin@example.com',
    'marketplace.notifications.webhookUrl': webhookUrl,
  });
  const alarms = alarmsOf(resourcesOfType(template, 'AWS::CloudWatch::Alarm'));
  const functionId = (id: FunctionId) => logicalIdOf(projectFunction(stack, id).lambda);
  const { adminEmailDeadLetterQueue } = stack.sellerEvents;
  const { webhook, notifierDeadLetterQueue } = stack.sellerNotifications;
  const { lifecycle, metering } = stack;
  const { undeliveredEventsQueue, undeliveredNotificationsQueue, undeliveredSweepsQueue } = lifecycle;
  /** The metering run's own metrics: in the stack's namespace, under the `service` dimension Powertools adds. */
  const meteringMetrics = `SaasMarketplace/${stack.stackName} service=metering`;
  if (
    adminEmailDeadLetterQueue === undefined ||
    webhook === undefined ||
    undeliveredEventsQueue === undefined ||
    undeliveredNotificationsQueue === undefined
  ) {
    throw new Error('a queue this configuration should have is missing');
  }
  const messagesIn = (queue: IConstruct) => `Maximum ApproximateNumberOfMessagesVisible of ${logicalIdOf(queue)} > 0`;

  test('watch the dead-letter queues, the crashes of the API functions, the sweep, metering and work falling behind', () => {
    expect(alarms).toHaveLength(23);
    expect(alarms.map(watches).sort()).toEqual(
      [
        `SaasMarketplace-seller-notifier-dead-letters: ${messagesIn(notifierDeadLetterQueue)}`,
        `SaasMarketplace-admin-email-dead-letters: ${messagesIn(adminEmailDeadLetterQueue)}`,
        `SaasMarketplace-webhook-dead-letters: ${messagesIn(webhook.deadLetterQueue)}`,
        `SaasMarketplace-webhook-events-undelivered: ${messagesIn(webhook.undeliveredEventsQueue)}`,
        `SaasMarketplace-lifecycle-dead-letters: ${messagesIn(lifecycle.deadLetterQueue)}`,
        `SaasMarketplace-metering-dead-letters: ${messagesIn(metering.deadLetterQueue)}`,
        `SaasMarketplace-marketplace-events-undelivered: ${messagesIn(undeliveredEventsQueue)}`,
        `SaasMarketplace-legacy-notifications-undelivered: ${messagesIn(undeliveredNotificationsQueue)}`,
        `SaasMarketplace-final-metering-windows-not-started: ${messagesIn(undeliveredSweepsQueue)}`,
        `SaasMarketplace-fulfillment-crashed: Sum Errors of ${functionId('Fulfillment')} > 0`,
        `SaasMarketplace-registration-page-crashed: Sum Errors of ${functionId('RegistrationPage')} > 0`,
        `SaasMarketplace-subscriber-access-crashed: Sum Errors of ${functionId('SubscriberAccess')} > 0`,
        `SaasMarketplace-usage-crashed: Sum Errors of ${functionId('Usage')} > 0`,
        `SaasMarketplace-metering-failed: Sum ExecutionsFailed of ${logicalIdOf(metering.runStateMachine)} > 0`,
        `SaasMarketplace-metering-rejected: Sum RecordsRejected of ${meteringMetrics} > 0`,
        `SaasMarketplace-metering-unsent: Sum RecordsPending of ${meteringMetrics} > 0`,
        `SaasMarketplace-metering-behind: Maximum OldestPendingAge of ${meteringMetrics} > ${12 * 3600}`,
        `SaasMarketplace-final-metering-failed: Sum Errors of ${functionId('FinalMetering')} > 0`,
        `SaasMarketplace-final-metering-missed: Sum FinalMeteringMissed of ${meteringMetrics} > 0`,
        `SaasMarketplace-metering-unconfirmed-send: Sum UnconfirmedSends of ${meteringMetrics} > 0`,
        `SaasMarketplace-final-metering-windows-failed: Sum Errors of ${functionId('FinalMeteringWindows')} > 0`,
        `SaasMarketplace-seller-notifier-behind: Maximum IteratorAge of ${functionId('SellerNotifier')} > ${600 * 1000}`,
        `SaasMarketplace-lifecycle-behind: Maximum ApproximateAgeOfOldestMessage of ${logicalIdOf(lifecycle.queue)} > ${30 * 60}`,
      ].sort(),
    );
  });

  test('go off on the first period over the threshold, and treat no data as healthy', () => {
    for (const alarm of alarms) {
      expect(alarm, alarm.AlarmName).toMatchObject({
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
    }
  });

  test('each say what went wrong and where to look, and end with their runbook entry', () => {
    for (const alarm of alarms) {
      expect(alarm.AlarmDescription.length, alarm.AlarmName).toBeGreaterThan(80);
      // CloudWatch's limit for a description.
      expect(alarm.AlarmDescription.length, alarm.AlarmName).toBeLessThanOrEqual(1024);
      const entry = alarm.AlarmName.slice(`${stack.stackName}-`.length);
      expect(alarm.AlarmDescription, alarm.AlarmName).toMatch(
        new RegExp(`\\. Runbook: docs/operations\\.md#${entry}$`),
      );
    }
  });
});

test('without an admin email or a webhook, no alarm watches a queue that does not exist', () => {
  const { template } = synthesize();
  const names = alarmsOf(resourcesOfType(template, 'AWS::CloudWatch::Alarm')).map((alarm) => alarm.AlarmName);
  // The 23 with an admin email and a webhook but the 3 below: the metering alarms are always there.
  expect(names).toHaveLength(20);
  for (const absent of ['admin-email-dead-letters', 'webhook-dead-letters', 'webhook-events-undelivered']) {
    expect(names).not.toContain(`SaasMarketplace-${absent}`);
  }
});

test('with SNS notifications only, no alarm watches the queue for undelivered EventBridge events', () => {
  const { template } = synthesize(snsOnly);
  const names = alarmsOf(resourcesOfType(template, 'AWS::CloudWatch::Alarm')).map((alarm) => alarm.AlarmName);
  expect(names).toHaveLength(19);
  expect(names).not.toContain('SaasMarketplace-marketplace-events-undelivered');
});
