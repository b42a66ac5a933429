/**
 * Preflight's stack region check, for a stack deployed wherever the credentials point (no marketplace.region): the
 * template refuses a region Marketplace does not notify, and ARNs of resources in another region.
 */
import { expect, test } from 'vitest';
import { configFromContext, parseConfig, type Config } from '../../lib/config.ts';
import { cdkJsonContext } from '../../local/config.ts';
import { stackRegionCheck } from '../../local/commands/preflight-checks.ts';

/**
 * The example configuration with `overrides` put in after validation: the configuration itself refuses ARNs outside the
 * region the stack deploys to, and the check must hold on its own all the same.
 */
function configWith(overrides: {
  region?: string;
  observability?: Partial<Config['observability']>;
  api?: Partial<Config['api']>;
}): Config {
  const example = parseConfig(configFromContext(cdkJsonContext()));
  return {
    ...example,
    ...(overrides.region === undefined ? {} : { region: overrides.region }),
    observability: { ...example.observability, ...overrides.observability },
    api: { ...example.api, ...overrides.api },
  };
}

const certificateIn = (region: string) => ({
  customDomain: {
    domainName: 'api.example.com',
    certificateArn: `arn:aws:acm:${region}:123456789012:certificate/0f6a7d1e-1111-2222-3333-444455556666`,
  },
});

test('an alarm topic and a certificate in the region the credentials deploy to pass', () => {
  const config = configWith({
    observability: { alarmTopicArn: 'arn:aws:sns:us-east-1:123456789012:pager' },
    api: certificateIn('us-east-1'),
  });
  expect(stackRegionCheck(config, 'us-east-1')).toMatchObject({ outcome: 'PASS' });
});

test('an alarm topic or a certificate of another region fails, naming each and the region to deploy to', () => {
  const topic = configWith({ observability: { alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:pager' } });
  const check = stackRegionCheck(topic, 'us-east-1');
  expect(check.outcome).toBe('FAIL');
  expect(check.detail).toContain('marketplace.observability.alarmTopicArn is a topic in eu-west-1');
  // The example configuration hears from Marketplace: elsewhere than us-east-1 that takes marketplace.region.
  expect(check.fix).toBe(
    'Name a topic in us-east-1, or set marketplace.region to eu-west-1 (in cdk.json, or -c marketplace.region=eu-west-1 ' +
      'for preflight, cdk bootstrap and cdk deploy alike; the app then adds a stack in us-east-1 that forwards the ' +
      'notifications, bootstrapped too).',
  );
  expect(stackRegionCheck(topic, 'eu-west-1').outcome).toBe('FAIL');

  const both = configWith({
    observability: { alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:pager' },
    api: certificateIn('eu-central-1'),
  });
  const twice = stackRegionCheck(both, 'us-east-1');
  expect(twice.detail).toContain('marketplace.api.customDomain.certificateArn is a certificate in eu-central-1');
  // In two regions, no one region to deploy to would do.
  expect(twice.fix).toBe('Name a topic and a certificate in us-east-1.');
});

test('with marketplace.region set, the configuration has checked the ARNs already: the region passes', () => {
  const config = configWith({
    region: 'eu-west-1',
    observability: { alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:pager' },
  });
  expect(stackRegionCheck(config, 'eu-west-1')).toMatchObject({ outcome: 'PASS' });
});

test('a region that is not one (a typo in AWS_REGION) fails as such, not with a region to configure', () => {
  const check = stackRegionCheck(configWith({}), 'moon');
  expect(check).toMatchObject({
    outcome: 'FAIL',
    detail: 'the credentials\' region is "moon", which is not an AWS region name',
  });
  expect(check.fix).not.toContain('marketplace.region');
});
