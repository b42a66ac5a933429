/** What every function of the stack has in common, however its capability uses it. */
import { describe, expect, test } from 'vitest';
import { METERING_RESERVED_CONCURRENCY } from '../../lib/metering.ts';
import { partsOf } from './iam.ts';
import {
  functionIds,
  getAtt,
  projectFunction,
  resourceNamed,
  resourcesOfType,
  synthesize,
  webhookUrl,
} from './synthesis.ts';

// With a webhook, so that every function exists.
const { stack, template } = synthesize({ 'marketplace.notifications.webhookUrl': webhookUrl });

test('the stack has exactly these functions', () => {
  expect(Object.keys(resourcesOfType(template, 'AWS::Lambda::Function')).sort()).toEqual(
    functionIds.map((id) => partsOf(projectFunction(stack, id)).functionId).sort(),
  );
});

test('the functions reserve in all the concurrency that npm run preflight looks for room for', () => {
  const reserved = Object.values(resourcesOfType(template, 'AWS::Lambda::Function')).map(
    (resource) => (resource.Properties['ReservedConcurrentExecutions'] as number | undefined) ?? 0,
  );
  expect(reserved.reduce((sum, count) => sum + count, 0)).toBe(
    METERING_RESERVED_CONCURRENCY.hourly + METERING_RESERVED_CONCURRENCY.final,
  );
});

describe.each(functionIds)('the %s function', (id) => {
  const { functionId, roleId, logGroupId } = partsOf(projectFunction(stack, id));
  const properties = () => resourceNamed(template, functionId).Properties;

  test('runs Node.js 24 on arm64', () => {
    expect(properties()).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'index.handler' });
  });

  test('logs to a log group of its own that expires its lines', () => {
    expect(properties()['LoggingConfig']).toEqual({ LogGroup: { Ref: logGroupId } });
    expect(resourceNamed(template, logGroupId).Properties['RetentionInDays']).toBeGreaterThan(0);
  });

  test('runs as a role of its own with no managed policy', () => {
    expect(properties()['Role']).toEqual(getAtt(roleId, 'Arn'));
    const role = resourceNamed(template, roleId).Properties;
    expect(role['ManagedPolicyArns']).toBeUndefined();
    expect(role['Policies']).toBeUndefined();
  });
});
