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
  /** An alarm on metric math: the expression, and each metric it reads. */
  readonly Metrics?: {
    Id: string;
    Expression?: string;
    MetricStat?: { Stat: string; Metric: { MetricName: string; Dimensions: { Name: string; Value: unknown }[] } };
  }[];
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
  const subjectOf = (dimensions: AlarmProperties['Dimensions']) =>
    dimensions
      .map(({ Name, Value }) => {
        if (typeof Value === 'string') return `${alarm.Namespace} ${Name}=${Value}`;
        const reference = Value as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
        return reference.Ref ?? reference['Fn::GetAtt']?.[0];
      })
      .join(', ');
  if (alarm.Metrics !== undefined) {
    const expression = alarm.Metrics.find((metric) => metric.Expression !== undefined)?.Expression;
    const read = alarm.Metrics.flatMap(({ Id, MetricStat }) =>
      MetricStat === undefined
        ? []
        : [`${Id}=${MetricStat.Stat} ${MetricStat.Metric.MetricName} of ${subjectOf(MetricStat.Metric.Dimensions)}`],
    );
    return `${alarm.AlarmName}: ${expression} of ${read.join(', ')} > ${alarm.Threshold}`;
  }
  return `${alarm.AlarmName}: ${alarm.Statistic} ${alarm.MetricName} of ${subjectOf(alarm.Dimensions)} > ${alarm.Threshold}`;
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
    expect(alarms).toHaveLength(24);
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
        'SaasMarketplace-api-functions-throttled: SUM([FILL(throttles0, 0), FILL(throttles1, 0), FILL(throttles2, 0), ' +
          `FILL(throttles3, 0)]) of throttles0=Sum Throttles of ${functionId('Fulfillment')}, throttles1=Sum Throttles ` +
          `of ${functionId('RegistrationPage')}, throttles2=Sum Throttles of ${functionId('SubscriberAccess')}, ` +
          `throttles3=Sum Throttles of ${functionId('Usage')} > 0`,
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
  // The 24 with an admin email and a webhook but the 3 below: the metering alarms are always there.
  expect(names).toHaveLength(21);
  for (const absent of ['admin-email-dead-letters', 'webhook-dead-letters', 'webhook-events-undelivered']) {
    expect(names).not.toContain(`SaasMarketplace-${absent}`);
  }
});

test('with SNS notifications only, no alarm watches the queue for undelivered EventBridge events', () => {
  const { template } = synthesize(snsOnly);
  const names = alarmsOf(resourcesOfType(template, 'AWS::CloudWatch::Alarm')).map((alarm) => alarm.AlarmName);
  expect(names).toHaveLength(20);
  expect(names).not.toContain('SaasMarketplace-marketplace-events-undelivered');
});
