/**
 * Preflight's alarm recipients check: it fails when the alarms of a stack would reach no one, as `cdk synth` warns.
 */
import { expect, test } from 'vitest';
import { configFromContext, parseConfig } from '../../lib/config.ts';
import { cdkJsonContext } from '../../local/config.ts';
import { alarmRecipientsCheck } from '../../local/commands/preflight-checks.ts';

function configWith(overrides: Record<string, unknown>) {
  const example = configFromContext(cdkJsonContext()) as Record<string, unknown>;
  return parseConfig({ ...example, ...overrides });
}

test('no email and no topic: fails', () => {
  expect(alarmRecipientsCheck(configWith({})).outcome).toBe('FAIL');
});

test("a topic in another region than us-east-1 and no email: the forwarder stack's alarms reach no one", () => {
  const check = alarmRecipientsCheck(
    configWith({ region: 'eu-west-1', observability: { alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:pager' } }),
  );
  expect(check.outcome).toBe('FAIL');
  expect(check.detail).toContain('us-east-1 forwarder stack');
  expect(check.fix).toContain('alarmEmail');
});

test('an email reaches both stacks; a topic alone does in us-east-1', () => {
  const both = configWith({
    region: 'eu-west-1',
    observability: { alarmEmail: 'oncall@example.com', alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:pager' },
  });
  expect(alarmRecipientsCheck(both).outcome).toBe('PASS');
  const topicInUsEast1 = configWith({ observability: { alarmTopicArn: 'arn:aws:sns:us-east-1:123456789012:pager' } });
  expect(alarmRecipientsCheck(topicInUsEast1)).toMatchObject({ outcome: 'PASS' });
});
