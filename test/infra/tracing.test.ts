/**
 * Tracing: X-Ray on the API stage, every function (with the permission to send traces and nothing more) and the
 * metering run, on by default; `observability.tracing: false` turns all of it off, and tells the functions so.
 */
import { describe, expect, test } from 'vitest';
import { readEnvironment, usageEnvironment } from '../../lambdas/core/environment.ts';
import { partsOf, permissionsOf, sendsTraces } from './iam.ts';
import {
  functionIds,
  logicalIdOf,
  projectFunction,
  resourceNamed,
  resourcesOfType,
  synthesize,
  webhookUrl,
} from './synthesis.ts';

describe.each([
  ['on (the default)', {}, true],
  ['off', { 'marketplace.observability.tracing': false }, false],
] as const)('with tracing %s', (_, overrides, traced) => {
  // With a webhook, so that every function exists.
  const { stack, template } = synthesize({ ...overrides, 'marketplace.notifications.webhookUrl': webhookUrl });

  test.each(functionIds)('the %s function traces, and is told so, exactly when tracing is on', (id) => {
    const { functionId, roleId } = partsOf(projectFunction(stack, id));
    const properties = resourceNamed(template, functionId).Properties;
    expect(properties['TracingConfig']).toEqual(traced ? { Mode: 'Active' } : undefined);
    const { Variables } = properties['Environment'] as { Variables: Record<string, string> };
    expect(Variables['POWERTOOLS_TRACE_ENABLED']).toBe(String(traced));
    const xRay = permissionsOf(template, roleId).filter((permission) => permission.startsWith('xray:'));
    expect(xRay).toEqual(traced ? sendsTraces : []);
  });

  test('the API stage traces exactly when tracing is on', () => {
    const stage = resourceNamed(template, logicalIdOf(stack.api.restApi.deploymentStage)).Properties;
    expect(stage['TracingEnabled']).toBe(traced);
  });

  test('the metering run traces exactly when tracing is on', () => {
    const [machine] = Object.values(resourcesOfType(template, 'AWS::StepFunctions::StateMachine'));
    expect(machine?.Properties['TracingConfiguration']).toEqual({ Enabled: traced });
  });
});

test('a function started without POWERTOOLS_TRACE_ENABLED (the local stack) traces nothing', () => {
  const environment = readEnvironment(usageEnvironment, {
    SUBSCRIBERS_TABLE: 'Subscribers',
    USAGE_TABLE: 'Usage',
    FINAL_METERING_GRACE_SECONDS: '3600',
    PRODUCTS: JSON.stringify([{ code: 'p', name: 'P', identityModel: 'license' }]),
    METERED_DIMENSIONS: JSON.stringify({ p: ['requests'] }),
    METERING: JSON.stringify({
      closedHourGraceMinutes: 5,
      acceptanceWindowHours: 24,
      finalHourMarginMinutes: 15,
      zeroUsageRecords: true,
      callsPerSecond: 10,
      eventIdRetentionDays: 35,
    }),
  });
  expect(environment.POWERTOOLS_TRACE_ENABLED).toBe(false);
});
