/** Buyer registration's functions: what each is told (environment) and what each may do (IAM), exactly. */
import { describe, expect, test } from 'vitest';
import { resolvedTokenKey, sessionKey, subscriberKey } from '../../lambdas/core/table-keys.ts';
import { configFromContext, parseConfig } from '../../lib/config.ts';
import { cdkJsonContext } from '../../local/config.ts';
import { mayOnItem, on, partsOf, permissionsOf, sendsTraces, writesOwnLogs } from './iam.ts';
import { getAtt, logicalIdOf, projectFunction, resourceNamed, synthesize } from './synthesis.ts';

/** Values unlike the defaults, so that a test can tell the configuration's value from a hard-coded one. */
const distinctive = { 'marketplace.marketplaceRegion': 'eu-west-1' };
const config = parseConfig(configFromContext({ ...cdkJsonContext(), ...distinctive }));

const { stack, template } = synthesize(distinctive);
const subscribersTableId = logicalIdOf(stack.storage.subscribers);
const fulfillment = projectFunction(stack, 'Fulfillment');
const registrationPage = projectFunction(stack, 'RegistrationPage');

describe('environment variables', () => {
  const variables = (id: string) =>
    (resourceNamed(template, id).Properties['Environment'] as { Variables: Record<string, unknown> }).Variables;
  const products = config.products.map(({ code, name, identityModel }) => ({ code, name, identityModel }));
  const platform = (serviceName: string) => ({
    POWERTOOLS_SERVICE_NAME: serviceName,
    NODE_OPTIONS: '--enable-source-maps',
    POWERTOOLS_TRACE_ENABLED: 'true',
  });

  test('the fulfillment function gets the table, the Marketplace region, the products and the page settings', () => {
    const { PRODUCTS, REGISTRATION, ...rest } = variables(partsOf(fulfillment).functionId);
    expect(JSON.parse(PRODUCTS as string)).toEqual(products);
    expect(JSON.parse(REGISTRATION as string)).toEqual(config.registration);
    expect(rest).toEqual({
      SUBSCRIBERS_TABLE: { Ref: subscribersTableId },
      MARKETPLACE_REGION: 'eu-west-1',
      ...platform('fulfillment'),
    });
  });

  test('the registration page gets the table, the products and the page settings', () => {
    const { PRODUCTS, REGISTRATION, ...rest } = variables(partsOf(registrationPage).functionId);
    expect(JSON.parse(PRODUCTS as string)).toEqual(products);
    expect(JSON.parse(REGISTRATION as string)).toEqual(config.registration);
    expect(rest).toEqual({ SUBSCRIBERS_TABLE: { Ref: subscribersTableId }, ...platform('registration-page') });
  });
});

describe('IAM', () => {
  const table = on(getAtt(subscribersTableId, 'Arn'));
  /** Keys as the runtime code builds them (`lambdas/core/table-keys.ts`). */
  const subscriberItem = subscriberKey('license:arn:aws:license-manager::111122223333:license:l-0123').pk;
  const sessionItem = sessionKey('S2Fn0rR7uJ7m9r3Jb0Xr9dVq4bq8bVt3Xh2dWd3Xq5E').pk;
  const resolvedTokenItem = resolvedTokenKey('q5Xh2dWd3XS2Fn0rR7uJ7m9r3Jb0Xr9dVq4bq8bVt3E').pk;
  const fulfillmentRole = partsOf(fulfillment).roleId;
  const pageRole = partsOf(registrationPage).roleId;
  const may = (role: string, action: string, partitionKey: string) =>
    mayOnItem(template, role, subscribersTableId, action, partitionKey);

  test('the fulfillment function updates and reads subscribers, puts sessions, remembers and recalls resolved tokens and resolves customers, nothing else', () => {
    expect(permissionsOf(template, fulfillmentRole)).toEqual(
      [
        ...writesOwnLogs(fulfillment),
        ...sendsTraces,
        `dynamodb:UpdateItem on ${table} for items SUBSCRIBER#*`,
        `dynamodb:GetItem on ${table} for items SUBSCRIBER#*`,
        `dynamodb:PutItem on ${table} for items SESSION#*`,
        `dynamodb:PutItem on ${table} for items TOKEN#*`,
        `dynamodb:GetItem on ${table} for items TOKEN#*`,
        'aws-marketplace:ResolveCustomer on "*"',
      ].sort(),
    );
  });

  test('the fulfillment function may write the items its code writes and no other kind', () => {
    expect(may(fulfillmentRole, 'dynamodb:UpdateItem', subscriberItem)).toBe(true);
    expect(may(fulfillmentRole, 'dynamodb:GetItem', subscriberItem)).toBe(true);
    expect(may(fulfillmentRole, 'dynamodb:GetItem', sessionItem)).toBe(false);
    expect(may(fulfillmentRole, 'dynamodb:PutItem', sessionItem)).toBe(true);
    expect(may(fulfillmentRole, 'dynamodb:UpdateItem', sessionItem)).toBe(false);
    expect(may(fulfillmentRole, 'dynamodb:PutItem', subscriberItem)).toBe(false);
    expect(may(fulfillmentRole, 'dynamodb:PutItem', resolvedTokenItem)).toBe(true);
    expect(may(fulfillmentRole, 'dynamodb:GetItem', resolvedTokenItem)).toBe(true);
    expect(may(fulfillmentRole, 'dynamodb:UpdateItem', resolvedTokenItem)).toBe(false);
    expect(may(fulfillmentRole, 'dynamodb:PutItem', 'USAGE#anything')).toBe(false);
  });

  test('the registration page gets subscribers and sessions and updates subscribers, nothing else', () => {
    expect(permissionsOf(template, pageRole)).toEqual(
      [
        ...writesOwnLogs(registrationPage),
        ...sendsTraces,
        `dynamodb:GetItem on ${table} for items SUBSCRIBER#* or SESSION#*`,
        `dynamodb:UpdateItem on ${table} for items SUBSCRIBER#*`,
      ].sort(),
    );
  });

  test('the registration page may read and write the items its code does and no other kind', () => {
    expect(may(pageRole, 'dynamodb:GetItem', subscriberItem)).toBe(true);
    expect(may(pageRole, 'dynamodb:GetItem', sessionItem)).toBe(true);
    expect(may(pageRole, 'dynamodb:UpdateItem', subscriberItem)).toBe(true);
    expect(may(pageRole, 'dynamodb:UpdateItem', sessionItem)).toBe(false);
    expect(may(pageRole, 'dynamodb:GetItem', resolvedTokenItem)).toBe(false);
    expect(may(pageRole, 'dynamodb:GetItem', 'USAGE#anything')).toBe(false);
  });
});
