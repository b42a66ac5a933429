/**
 * The contract between the stack and the functions: what the stack writes into each function's environment parses
 * with the schema that function reads at cold start (`lambdas/core/environment.ts`).
 */
import type { Template } from 'aws-cdk-lib/assertions';
import type { z } from 'zod';
import { describe, expect, test } from 'vitest';
import {
  finalMeteringWindowsEnvironment,
  fulfillmentEnvironment,
  lifecycleEnvironment,
  meteringEnvironment,
  registrationPageEnvironment,
  sellerNotifierEnvironment,
  subscriberAccessEnvironment,
  usageEnvironment,
  webhookEnvironment,
} from '../../lambdas/core/environment.ts';
import { ConfigError } from '../../lib/config.ts';
import { environmentBytes, LAMBDA_ENVIRONMENT_LIMIT_BYTES } from '../../lib/environment-size.ts';
import { ProjectFunction } from '../../lib/functions.ts';
import { configurationVariants, resourcesOfType, synthesize } from './synthesis.ts';

type EnvironmentSchema = z.ZodObject<Record<string, z.ZodType>>;

/** The schema each function reads, by its `POWERTOOLS_SERVICE_NAME`. */
const contracts: Record<string, EnvironmentSchema> = {
  fulfillment: fulfillmentEnvironment,
  'registration-page': registrationPageEnvironment,
  'seller-notifier': sellerNotifierEnvironment,
  'subscriber-access': subscriberAccessEnvironment,
  usage: usageEnvironment,
  metering: meteringEnvironment,
  'final-metering': meteringEnvironment,
  lifecycle: lifecycleEnvironment,
  'final-metering-windows': finalMeteringWindowsEnvironment,
  webhook: webhookEnvironment,
};

/** Functions that exist only when configured, by the context key that turns each on. */
const optionalFunctions: Record<string, string> = { webhook: 'marketplace.notifications.webhookUrl' };

/** Set by the stack for the platform (the Lambda runtime and Powertools), not read by the function's code. */
const platformVariables = ['POWERTOOLS_SERVICE_NAME', 'NODE_OPTIONS'];

/** Variables the contract has only so the local stack can reach DynamoDB Local and the simulator. */
const localOnlyVariables = ['DYNAMODB_ENDPOINT', 'MARKETPLACE_ENDPOINT', 'EVENTS_ENDPOINT', 'ENTITLEMENT_ENDPOINT'];

/**
 * A resource name, URL or ARN is known only at deployment: stand in a plausible value for each reference, of the form
 * CloudFormation gives for the referenced resource's type.
 */
function withReferencesResolved(template: Template, variables: Record<string, unknown>): Record<string, string> {
  const resources = template.toJSON()['Resources'] as Record<string, { Type: string }>;
  const standIn = (value: unknown): string => {
    const ref = (value as { Ref?: string }).Ref;
    const id = ref ?? JSON.stringify(value).replace(/\W+/g, '-');
    switch (ref === undefined ? undefined : resources[ref]?.Type) {
      case 'AWS::SQS::Queue':
        return `https://sqs.us-east-1.amazonaws.com/123456789012/${id}`;
      case 'AWS::SecretsManager::Secret':
        return `arn:aws:secretsmanager:us-east-1:123456789012:secret:${id}-AbCdEf`;
      default:
        return `deployed-${id}`;
    }
  };
  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => [name, typeof value === 'string' ? value : standIn(value)]),
  );
}

function functionEnvironments(overrides: Record<string, unknown>) {
  const { template } = synthesize(overrides);
  return Object.values(resourcesOfType(template, 'AWS::Lambda::Function')).map((resource) => {
    const { Variables } = resource.Properties['Environment'] as { Variables: Record<string, unknown> };
    return {
      serviceName: String(Variables['POWERTOOLS_SERVICE_NAME']),
      variables: withReferencesResolved(template, Variables),
    };
  });
}

const minimalRegistration = {
  'marketplace.registration': { appUrl: 'https://app.example.com/', supportUrl: 'https://example.com/help' },
};

describe.each(Object.entries({ ...configurationVariants, 'a minimal registration section': minimalRegistration }))(
  'with %s',
  (_, overrides) => {
    const environments = functionEnvironments(overrides);
    const deployed = Object.keys(contracts).filter(
      (serviceName) => optionalFunctions[serviceName] === undefined || optionalFunctions[serviceName] in overrides,
    );

    test('every function has a contract in lambdas/core/environment.ts', () => {
      expect(environments.map((environment) => environment.serviceName).sort()).toEqual(deployed.sort());
    });

    test.each(deployed)('the %s environment parses with its schema', (serviceName) => {
      const { variables } = environments.find((environment) => environment.serviceName === serviceName) ?? {};
      const result = contracts[serviceName]?.safeParse(variables);
      expect(result?.success, JSON.stringify(result?.error?.issues)).toBe(true);
    });

    test.each(deployed)(
      'the %s environment holds only its contract and platform variables, no local endpoint',
      (serviceName) => {
        const { variables = {} } = environments.find((environment) => environment.serviceName === serviceName) ?? {};
        const contract = Object.keys(contracts[serviceName]?.shape ?? {}).filter(
          (name) => !localOnlyVariables.includes(name),
        );
        const required = contract.filter((name) => !contracts[serviceName]?.shape[name]?.safeParse(undefined).success);
        const names = Object.keys(variables);
        expect(names).toEqual(expect.arrayContaining([...required, ...platformVariables]));
        expect([...contract, ...platformVariables]).toEqual(expect.arrayContaining(names));
      },
    );
  },
);

describe("Lambda's 4 KB of environment", () => {
  const dimensions = (count: number) =>
    Array.from({ length: count }, (_, index) => ({
      name: `api_requests_tier_${String(index).padStart(3, '0')}`,
      kind: 'metered',
    }));

  test('every function of every configuration fits, deploy-time values counted at their most', () => {
    for (const overrides of Object.values(configurationVariants)) {
      const functions = synthesize(overrides)
        .app.node.findAll()
        .filter((node): node is ProjectFunction => node instanceof ProjectFunction);
      for (const node of functions) {
        const total = [...environmentBytes(node.environment).values()].reduce((sum, size) => sum + size, 0);
        expect(total, node.serviceName).toBeLessThanOrEqual(LAMBDA_ENVIRONMENT_LIMIT_BYTES);
      }
    }
  });

  test('products whose metered dimensions would not fit are refused at synthesis, naming the function and why', () => {
    expect(() => synthesize({ 'marketplace.products.0.dimensions': dimensions(100) })).not.toThrow();
    const refused = () => synthesize({ 'marketplace.products.0.dimensions': dimensions(200) });
    expect(refused).toThrow(ConfigError);
    expect(refused).toThrow(
      /^The usage function's environment would take about [\d,]+ bytes, and Lambda takes at most/,
    );
    expect(refused).toThrow(/METERED_DIMENSIONS alone is [\d,]+\. .*\(marketplace\.products\[\]\.dimensions\)\.$/);
  });

  test('so many products that their list would not fit are refused naming the products, not the dimensions', () => {
    // Forty contract products: no metered dimension anywhere, so fewer dimensions would not help.
    const products = Array.from({ length: 40 }, (_, index) => ({
      code: `contractproduct${String(index).padStart(11, '0')}`,
      name: `Analytics Suite Enterprise Edition ${index}`,
      pricingModel: 'contracts',
      dimensions: [{ name: 'seats', kind: 'contract' }],
    }));
    const refused = () => synthesize({ 'marketplace.products': products });
    expect(refused).toThrow(
      /PRODUCTS alone is [\d,]+\. .*sell fewer products .*\(marketplace\.products\[\]\.name\)\.$/,
    );
  });

  test('registration settings too long to fit are refused naming the registration settings', () => {
    const refused = () =>
      synthesize({ 'marketplace.registration.supportUrl': `https://support.example.com/${'a'.repeat(4000)}` });
    expect(refused).toThrow(/^The (fulfillment|registration-page) function's environment would take about/);
    expect(refused).toThrow(
      /REGISTRATION alone is [\d,]+\. .*shorten its texts and addresses \(marketplace\.registration\)\.$/,
    );
  });
});
