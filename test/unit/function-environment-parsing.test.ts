/**
 * A function's cold start reads its environment once: the stack writes every variable the contract names, so one that
 * is missing or malformed fails the start, naming the variable, rather than falling back on a default of its own.
 */
import { expect, test } from 'vitest';
import {
  FunctionEnvironmentError,
  fulfillmentEnvironment,
  readEnvironment,
  subscriberAccessEnvironment,
} from '../../lambdas/core/environment.ts';

const access = { SUBSCRIBERS_TABLE: 'Subscribers' };

test('the final-metering grace is read as whole seconds', () => {
  expect(
    readEnvironment(subscriberAccessEnvironment, { ...access, FINAL_METERING_GRACE_SECONDS: '4500' })
      .FINAL_METERING_GRACE_SECONDS,
  ).toBe(4500);
});

test.each([
  [undefined, 'missing'],
  ['', 'must be a whole number of seconds'],
  ['0', 'must be a whole number of seconds'],
  ['90.5', 'must be a whole number of seconds'],
  ['1h', 'must be a whole number of seconds'],
  ['21601', 'must be at most 6 hours (21600 seconds), as the configuration allows'],
  ['1'.repeat(30), 'must be at most 6 hours (21600 seconds), as the configuration allows'],
])('a final-metering grace of %j fails the start, naming the variable', (value, message) => {
  const read = () => readEnvironment(subscriberAccessEnvironment, { ...access, FINAL_METERING_GRACE_SECONDS: value });
  expect(read).toThrow(FunctionEnvironmentError);
  expect(read).toThrow(`FINAL_METERING_GRACE_SECONDS: ${message}`);
});

test("the Marketplace region has no default of the function's own: the configuration's is the only one", () => {
  const variables = {
    ...access,
    PRODUCTS: JSON.stringify([{ code: 'p', name: 'P', identityModel: 'license' }]),
    REGISTRATION: JSON.stringify({ appUrl: 'https://app.example.com', requiredFields: [], sessionMinutes: 30 }),
  };
  expect(() => readEnvironment(fulfillmentEnvironment, variables)).toThrow('MARKETPLACE_REGION: missing');
  expect(readEnvironment(fulfillmentEnvironment, { ...variables, MARKETPLACE_REGION: 'eu-west-1' })).toMatchObject({
    MARKETPLACE_REGION: 'eu-west-1',
  });
});
