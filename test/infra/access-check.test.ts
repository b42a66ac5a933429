/** The access check's function: told the table and the grace period, allowed to read subscriber items only. */
import { describe, expect, test } from 'vitest';
import { agreementKey, sessionKey, subscriberKey } from '../../lambdas/core/table-keys.ts';
import { mayOnItem, on, partsOf, permissionsOf, sendsTraces, writesOwnLogs } from './iam.ts';
import { getAtt, logicalIdOf, projectFunction, resourceNamed, synthesize } from './synthesis.ts';

const { stack, template } = synthesize({ 'marketplace.lifecycle.finalMeteringGraceMinutes': 75 });
const subscribersTableId = logicalIdOf(stack.storage.subscribers);
const access = projectFunction(stack, 'SubscriberAccess');
const { functionId, roleId } = partsOf(access);

test('the function gets the table and the final-metering grace in seconds', () => {
  const { Variables } = resourceNamed(template, functionId).Properties['Environment'] as {
    Variables: Record<string, unknown>;
  };
  expect(Variables).toEqual({
    SUBSCRIBERS_TABLE: { Ref: subscribersTableId },
    FINAL_METERING_GRACE_SECONDS: String(75 * 60),
    POWERTOOLS_SERVICE_NAME: 'subscriber-access',
    NODE_OPTIONS: '--enable-source-maps',
    POWERTOOLS_TRACE_ENABLED: 'true',
  });
});

describe('IAM', () => {
  test('the function gets subscriber items and does nothing else', () => {
    expect(permissionsOf(template, roleId)).toEqual(
      [
        ...writesOwnLogs(access),
        ...sendsTraces,
        `dynamodb:GetItem on ${on(getAtt(subscribersTableId, 'Arn'))} for items SUBSCRIBER#*`,
      ].sort(),
    );
  });

  test('the function may read a subscriber, and no session or agreement', () => {
    const may = (action: string, partitionKey: string) =>
      mayOnItem(template, roleId, subscribersTableId, action, partitionKey);
    expect(may('dynamodb:GetItem', subscriberKey('legacy:prod-123:customer-1').pk)).toBe(true);
    expect(may('dynamodb:GetItem', sessionKey('digest').pk)).toBe(false);
    expect(may('dynamodb:GetItem', agreementKey('agmt-1').pk)).toBe(false);
    expect(may('dynamodb:UpdateItem', subscriberKey('legacy:prod-123:customer-1').pk)).toBe(false);
  });
});
