import { describe, expect, test } from 'vitest';
import { logicalIdOf, projectFunction, resourcesOfType, synthesize, type CfnResource } from './synthesis.ts';

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

/** What an alarm watches, as `<alarm name>: <statistic> <metric> of <resource logical id> > <threshold>`. */
function watches(alarm: AlarmProperties): string {
  const [dimension] = alarm.Dimensions;
  const value = dimension?.Value as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  const resource = value.Ref ?? value['Fn::GetAtt']?.[0];
  return `${alarm.AlarmName}: ${alarm.Statistic} ${alarm.MetricName} of ${resource} > ${alarm.Threshold}`;
}

describe('with an admin email', () => {
  const { stack, template } = synthesize({ 'marketplace.notifications.adminEmail': 'admin@example.com' });
  const alarms = alarmsOf(resourcesOfType(template, 'AWS::CloudWatch::Alarm'));
  const functionId = (id: 'Fulfillment' | 'RegistrationPage' | 'RegistrationNotifier') =>
    logicalIdOf(projectFunction(stack, id).lambda);
  const adminEmailQueue = stack.sellerEvents.adminEmailDeadLetterQueue;
  if (adminEmailQueue === undefined) throw new Error('no admin email dead-letter queue');

  test('watch the dead-letter queues, the crashes of the page functions and the notifier falling behind', () => {
    expect(alarms.map(watches).sort()).toEqual(
      [
        `SaasMarketplace-registration-notifier-dead-letters: Maximum ApproximateNumberOfMessagesVisible of ${logicalIdOf(stack.registration.notifierDeadLetterQueue)} > 0`,
        `SaasMarketplace-admin-email-dead-letters: Maximum ApproximateNumberOfMessagesVisible of ${logicalIdOf(adminEmailQueue)} > 0`,
        `SaasMarketplace-fulfillment-crashed: Sum Errors of ${functionId('Fulfillment')} > 0`,
        `SaasMarketplace-registration-page-crashed: Sum Errors of ${functionId('RegistrationPage')} > 0`,
        `SaasMarketplace-registration-notifier-behind: Maximum IteratorAge of ${functionId('RegistrationNotifier')} > ${3600 * 1000}`,
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

  test('each say what went wrong and where to look', () => {
    for (const alarm of alarms) expect(alarm.AlarmDescription.length, alarm.AlarmName).toBeGreaterThan(80);
  });
});

test('without an admin email, no alarm watches a queue that does not exist', () => {
  const { template } = synthesize();
  const names = alarmsOf(resourcesOfType(template, 'AWS::CloudWatch::Alarm')).map((alarm) => alarm.AlarmName);
  expect(names).toHaveLength(4);
  expect(names).not.toContain('SaasMarketplace-admin-email-dead-letters');
});
