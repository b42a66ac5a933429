import { describe, expect, test } from 'vitest';
import { CONFIG_CONTEXT_KEY, ConfigError, configFromContext, parseConfig, type Config } from '../../lib/config.ts';
import { exampleSettings, isExampleProductCode, refuseExampleProducts } from '../../lib/example-products.ts';
import { cdkJsonContext, contextOfCdkJson } from '../../local/config.ts';

interface RawDimension {
  name: string;
  kind: string;
}

interface RawProduct {
  code: string;
  pricingModel: string;
  dimensions: RawDimension[];
  snsTopicArns?: { subscription: string; entitlement: string };
}

interface RawConfig {
  products: RawProduct[];
  marketplaceRegion: string;
  registration: Record<string, unknown>;
  api: Record<string, unknown>;
  tables: Record<string, unknown>;
  [key: string]: unknown;
}

/** The example configuration shipped in cdk.json, as raw (unvalidated) data a test may break. */
function exampleConfig(): RawConfig {
  return configFromContext(cdkJsonContext()) as RawConfig;
}

function configErrorFor(raw: unknown): ConfigError {
  try {
    parseConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}

/** The `  <path>: <message>` lines of a ConfigError, keyed by the path they name. */
function problemsByPath(error: ConfigError): Map<string, string> {
  const problems = error.message
    .split('\n')
    .slice(1)
    .map((line) => /^ {2}(\S+): (.*)$/.exec(line));
  return new Map(problems.map((match) => [match?.[1] ?? '', match?.[2] ?? '']));
}

function product(config: RawConfig, index: number): RawProduct {
  const found = config.products[index];
  if (found === undefined) throw new Error(`the example has no product ${index}`);
  return found;
}

describe('the example configuration in cdk.json', () => {
  test('validates, with its two products and the defaults filled in', () => {
    const config: Config = parseConfig(exampleConfig());
    expect(config.products.map((each) => [each.code, each.pricingModel, each.identityModel])).toEqual([
      ['analytics-pro-example', 'subscriptions', 'license'],
      ['data-suite-legacy-example', 'contracts-with-consumption', 'legacy'],
    ]);
    expect(config.marketplaceRegion).toBe('us-east-1');
    expect(config.tables).toEqual({ deletionProtection: true, removalPolicy: 'retain' });
  });

  test('safe defaults apply when optional settings are left out', () => {
    const config = parseConfig({
      products: [
        {
          code: 'prod-minimal',
          name: 'Minimal',
          pricingModel: 'subscriptions',
          dimensions: [{ name: 'requests', kind: 'metered' }],
        },
      ],
      registration: { appUrl: 'https://app.example.com', supportEmail: 'help@example.com' },
    });
    expect(config.marketplaceRegion).toBe('us-east-1');
    expect(config.tables).toEqual({ deletionProtection: true, removalPolicy: 'retain' });
    expect(config.products[0]?.identityModel).toBe('license');
    expect(config.registration).toEqual(
      expect.objectContaining({ requiredFields: ['company', 'contactName', 'email'], sessionMinutes: 60 }),
    );
    expect(config.events.source).toBe('saas-marketplace');
    expect(config.lifecycle).toEqual({ eventSources: 'eventbridge', finalMeteringGraceMinutes: 60 });
    expect(config.metering).toEqual({
      scheduleMinute: 10,
      closedHourGraceMinutes: 5,
      acceptanceWindowHours: 24,
      finalHourMarginMinutes: 15,
      zeroUsageRecords: true,
      callsPerSecond: 10,
      eventIdRetentionDays: 35,
    });
    expect(config.api).toEqual({
      throttling: {
        buyerPages: { rateLimit: 50, burstLimit: 100 },
        accessCheck: { rateLimit: 200, burstLimit: 400 },
        usage: { rateLimit: 500, burstLimit: 1000 },
      },
      waf: { enabled: false, requestsPerFiveMinutes: 300 },
    });
    expect(config.observability).toEqual({ tracing: true });
  });

  test('states the default limits, so that a seller sees what to change', () => {
    expect(exampleConfig().api['throttling']).toEqual(parseConfig(exampleConfig()).api.throttling);
  });

  test('lets POST /usage record 25,000 events a second (50 a call) within the 10,000 requests a second of the account', () => {
    const { throttling } = parseConfig(exampleConfig()).api;
    expect(throttling.usage.rateLimit * 50).toBe(25_000);
    const routes = [throttling.buyerPages, throttling.buyerPages, throttling.accessCheck, throttling.usage];
    expect(routes.reduce((sum, route) => sum + route.rateLimit, 0)).toBeLessThan(10_000);
  });
});

describe('the example product codes', () => {
  const allowedByNothing = {};

  test('are marked as examples, every one of them', () => {
    const codes = parseConfig(exampleConfig()).products.map((each) => each.code);
    expect(codes.map(isExampleProductCode)).toEqual(codes.map(() => true));
    expect(isExampleProductCode('prod-abc123example')).toBe(false);
  });

  test('are refused for a deployable stack, each field named, with how to allow them', () => {
    const config = parseConfig(exampleConfig());
    const refusal = (() => {
      try {
        refuseExampleProducts(config, allowedByNothing);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(refusal).toBeInstanceOf(ConfigError);
    const message = (refusal as ConfigError).message;
    expect(message).toContain('marketplace.products[0].code: "analytics-pro-example" is an example');
    expect(message).toContain('marketplace.products[1].code: "data-suite-legacy-example" is an example');
    expect(message).toContain('-c allowExampleProducts=true');
  });

  test.each([true, 'true'])('are let through with allowExampleProducts = %j (a context object, or -c)', (allowed) => {
    expect(() => refuseExampleProducts(parseConfig(exampleConfig()), { allowExampleProducts: allowed })).not.toThrow();
  });

  test.each(['yes', 1, 'TRUE'])(
    'are not let through by allowExampleProducts = %j, which is refused as neither true nor false',
    (allowed) => {
      expect(() => refuseExampleProducts(parseConfig(exampleConfig()), { allowExampleProducts: allowed })).toThrow(
        `allowExampleProducts: must be true or false, not ${JSON.stringify(allowed)}`,
      );
    },
  );

  /** The shipped configuration with real product codes, and these settings over it. */
  function sellersOwn(settings: Record<string, Record<string, unknown>> = {}): RawConfig {
    const config = exampleConfig();
    config.products = config.products.map((each, index) => ({ ...each, code: `prod-real${index}` }));
    const sections = config as unknown as Record<string, Record<string, unknown> | undefined>;
    sections['registration'] = {
      ...sections['registration'],
      appUrl: 'https://app.acme-analytics.io/sign-in',
      supportEmail: 'support@acme-analytics.io',
      supportUrl: 'https://acme-analytics.io/support',
      freeTrialLandingUrl: 'https://app.acme-analytics.io/trial',
    };
    for (const [section, values] of Object.entries(settings)) sections[section] = { ...sections[section], ...values };
    return config;
  }

  test("leave a seller's own codes, links and addresses alone", () => {
    expect(exampleSettings(parseConfig(sellersOwn()))).toEqual([]);
    const lookalikes = sellersOwn({
      registration: { appUrl: 'https://myexample.com/in', supportEmail: 'help@example.co.uk' },
      observability: { alarmEmail: 'oncall@notexample.com' },
    });
    expect(() => refuseExampleProducts(parseConfig(lookalikes), allowedByNothing)).not.toThrow();
  });

  test('also refuse links and addresses on example domains or this machine, wherever they are set', () => {
    const config = sellersOwn({
      registration: { appUrl: 'http://localhost:3000/sign-in', logoUrl: 'https://cdn.EXAMPLE.org./logo.png' },
      notifications: { adminEmail: 'sales@example.net', webhookUrl: 'https://hooks.shop.example/marketplace' },
      observability: { alarmEmail: 'oncall@example.com' },
    });
    expect(exampleSettings(parseConfig(config)).map(({ path, why }) => [path, why])).toEqual([
      ['registration.appUrl', "on this machine, which a deployed stack's buyers cannot reach"],
      ['registration.logoUrl', 'on cdn.example.org, a domain reserved for examples'],
      ['notifications.adminEmail', 'on example.net, a domain reserved for examples'],
      ['notifications.webhookUrl', 'on hooks.shop.example, a domain reserved for examples'],
      ['observability.alarmEmail', 'on example.com, a domain reserved for examples'],
    ]);
    expect(() => refuseExampleProducts(parseConfig(config), allowedByNothing)).toThrow(
      'marketplace.observability.alarmEmail: "oncall@example.com" is on example.com, a domain reserved for examples',
    );
  });
});

test.each([
  [['license'], 'eventbridge'],
  [['legacy'], 'sns'],
  [['legacy', 'license'], 'both'],
])('with %j products and no eventSources, receives what they need: %s', (models, expected) => {
  const config = exampleConfig();
  delete config['lifecycle'];
  config.products = models.map((identityModel, index) => ({
    ...product(config, 0),
    code: `p-${index}`,
    identityModel,
  }));
  expect(parseConfig(config).lifecycle.eventSources).toBe(expected);
});

test.each([
  [24, 360],
  [6, 300],
  [3, 120],
])(
  'with a window of %i h, a final-metering grace of %i minutes, the longest that sends every final hour in time, is taken',
  (acceptanceWindowHours, finalMeteringGraceMinutes) => {
    const config = exampleConfig();
    config['metering'] = { acceptanceWindowHours };
    config['lifecycle'] = { finalMeteringGraceMinutes };
    expect(parseConfig(config).lifecycle.finalMeteringGraceMinutes).toBe(finalMeteringGraceMinutes);
  },
);

describe('a bad value is rejected with a ConfigError naming the exact field', () => {
  const cases: { what: string; breakIt: (config: RawConfig) => void; path: string; says: string }[] = [
    {
      what: 'a metering run scheduled before the previous hour has closed',
      breakIt: (config) => (config['metering'] = { scheduleMinute: 2, closedHourGraceMinutes: 5 }),
      path: 'marketplace.metering.scheduleMinute',
      says: 'must not be before closedHourGraceMinutes',
    },
    {
      what: 'a final hour sent no earlier than the final-metering deadline',
      breakIt: (config) => {
        config['metering'] = { finalHourMarginMinutes: 30 };
        config['lifecycle'] = { finalMeteringGraceMinutes: 30 };
      },
      path: 'marketplace.metering.finalHourMarginMinutes',
      says: 'must be less than lifecycle.finalMeteringGraceMinutes',
    },
    {
      what: 'a final-metering grace that would send the final hour after Marketplace stops taking it',
      breakIt: (config) => {
        config['metering'] = { acceptanceWindowHours: 3 };
        config['lifecycle'] = { finalMeteringGraceMinutes: 150 };
      },
      path: 'marketplace.lifecycle.finalMeteringGraceMinutes',
      says: 'must be at most 120 with metering.acceptanceWindowHours 3',
    },
    {
      what: "a final-metering grace that would send a month's last hour after the month-end cut-off",
      breakIt: (config) => (config['lifecycle'] = { finalMeteringGraceMinutes: 361 }),
      path: 'marketplace.lifecycle.finalMeteringGraceMinutes',
      says: '360',
    },
    {
      what: 'an acceptance window longer than Marketplace allows',
      breakIt: (config) => (config['metering'] = { acceptanceWindowHours: 25 }),
      path: 'marketplace.metering.acceptanceWindowHours',
      says: '24',
    },
    {
      what: 'a product code outside the Marketplace pattern',
      breakIt: (config) => (product(config, 0).code = 'bad code!'),
      path: 'marketplace.products[0].code',
      says: 'must be a Marketplace product code',
    },
    {
      what: 'an unknown pricing model',
      breakIt: (config) => (product(config, 1).pricingModel = 'pay-as-you-go'),
      path: 'marketplace.products[1].pricingModel',
      says: 'subscriptions',
    },
    {
      what: 'a contract dimension on a subscriptions product',
      breakIt: (config) => product(config, 0).dimensions.push({ name: 'seats', kind: 'contract' }),
      path: 'marketplace.products[0].dimensions',
      says: 'a subscriptions product has only metered dimensions',
    },
    {
      what: 'a metered dimension on a contracts product',
      breakIt: (config) => (product(config, 1).pricingModel = 'contracts'),
      path: 'marketplace.products[1].dimensions',
      says: 'a contracts product has only contract dimensions',
    },
    {
      what: 'a contracts-with-consumption product with nothing to meter',
      breakIt: (config) => (product(config, 1).dimensions = [{ name: 'seats', kind: 'contract' }]),
      path: 'marketplace.products[1].dimensions',
      says: 'needs at least one metered dimension',
    },
    {
      what: 'a duplicate dimension name',
      breakIt: (config) => product(config, 0).dimensions.push({ name: 'requests', kind: 'metered' }),
      path: 'marketplace.products[0].dimensions[2].name',
      says: 'duplicate dimension "requests"',
    },
    {
      what: 'an app URL that is not a web address',
      breakIt: (config) => (config.registration.appUrl = 'javascript:alert(1)'),
      path: 'marketplace.registration.appUrl',
      says: 'must be an https URL',
    },
    {
      what: 'a logo served over plain http, which the https pages would block as mixed content',
      breakIt: (config) => (config.registration.logoUrl = 'http://cdn.example.com/logo.png'),
      path: 'marketplace.registration.logoUrl',
      says: 'must be an https URL (http only for localhost, 127.0.0.1 or [::1])',
    },
    {
      what: 'a webhook URL with a user name and password, which fetch refuses to call (and logs would print)',
      breakIt: (config) => (config['notifications'] = { webhookUrl: 'https://user:secret@app.example.com/hook' }),
      path: 'marketplace.notifications.webhookUrl',
      says: 'must not hold a user name or password',
    },
    {
      what: 'no support contact for the registration page',
      breakIt: (config) => {
        delete config.registration.supportEmail;
        delete config.registration.supportUrl;
      },
      path: 'marketplace.registration',
      says: 'give supportEmail or supportUrl',
    },
    {
      what: 'a required field the form does not have',
      breakIt: (config) => (config.registration.requiredFields = ['company', 'vatNumber']),
      path: 'marketplace.registration.requiredFields[1]',
      says: 'Invalid option',
    },
    {
      what: 'an event source in the namespace AWS reserves',
      breakIt: (config) => (config.events = { source: 'aws.marketplace' }),
      path: 'marketplace.events.source',
      says: 'must not start with "aws."',
    },
    {
      what: 'a custom domain with a certificate that is not an ACM ARN',
      breakIt: (config) =>
        (config.api.customDomain = { domainName: 'buy.example.com', certificateArn: 'my-certificate' }),
      path: 'marketplace.api.customDomain.certificateArn',
      says: 'must be an ACM certificate ARN',
    },
    {
      what: 'a custom domain without its certificate, said to be required',
      breakIt: (config) => (config.api.customDomain = { domainName: 'buy.example.com' }),
      path: 'marketplace.api.customDomain.certificateArn',
      says: 'required (string)',
    },
    {
      what: 'protected tables that the stack is told to destroy',
      breakIt: (config) => (config.tables = { removalPolicy: 'destroy', deletionProtection: true }),
      path: 'marketplace.tables.deletionProtection',
      says: 'must be false when removalPolicy is "destroy"',
    },
    {
      what: 'the stage-wide throttling of earlier versions (told what replaced it)',
      breakIt: (config) => (config.api['throttling'] = { rateLimit: 10 }),
      path: 'marketplace.api.throttling.rateLimit',
      says: 'set { rateLimit, burstLimit } under api.throttling.buyerPages, api.throttling.accessCheck and',
    },
    {
      what: 'a route throttle with a burst that is not a whole number',
      breakIt: (config) => (config.api['throttling'] = { usage: { burstLimit: 10.5 } }),
      path: 'marketplace.api.throttling.usage.burstLimit',
      says: 'int',
    },
    {
      what: "a route's burst larger than a template's integer, which would synthesize and then fail the deploy",
      breakIt: (config) => (config.api['throttling'] = { accessCheck: { burstLimit: 1e12 } }),
      path: 'marketplace.api.throttling.accessCheck.burstLimit',
      says: '<=2147483647',
    },
    {
      what: 'an alarm email that is not an address',
      breakIt: (config) => (config['observability'] = { alarmEmail: 'on call' }),
      path: 'marketplace.observability.alarmEmail',
      says: 'email',
    },
    {
      what: 'an alarm topic that is not an SNS topic ARN',
      breakIt: (config) => (config['observability'] = { alarmTopicArn: 'arn:aws:sqs:us-east-1:123456789012:q' }),
      path: 'marketplace.observability.alarmTopicArn',
      says: 'must be an SNS topic ARN',
    },
    {
      what: "an alarm topic outside the stack's region, which CloudWatch cannot notify",
      breakIt: (config) => {
        config['region'] = 'eu-west-1';
        config['observability'] = { alarmTopicArn: 'arn:aws:sns:us-east-1:123456789012:pager' };
      },
      path: 'marketplace.observability.alarmTopicArn',
      says: 'must be a topic in eu-west-1',
    },
    {
      what: 'an alarm topic outside us-east-1 with no region set, where the stack deploys',
      breakIt: (config) => (config['observability'] = { alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:pager' }),
      path: 'marketplace.observability.alarmTopicArn',
      says:
        'must be a topic in us-east-1, where the stack deploys while marketplace.region is not set (or set ' +
        'marketplace.region to eu-west-1',
    },
    {
      what: "a custom domain's certificate outside the stack's region, which a regional API domain cannot use",
      breakIt: (config) => {
        config['region'] = 'eu-west-1';
        config.api.customDomain = {
          domainName: 'buy.example.com',
          certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e',
        };
      },
      path: 'marketplace.api.customDomain.certificateArn',
      says: 'must be a certificate in eu-west-1',
    },
    {
      what: 'SNS topics for a license-model product, which would be ignored',
      breakIt: (config) =>
        (product(config, 0).snsTopicArns = {
          subscription: 'arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-analytics',
          entitlement: 'arn:aws:sns:us-east-1:287250355862:aws-mp-entitlement-notification-analytics',
        }),
      path: 'marketplace.products[0].snsTopicArns',
      says: 'only a legacy product has SNS topics',
    },
    {
      what: "a legacy product's topic outside us-east-1, where Marketplace's topics are",
      breakIt: (config) =>
        (product(config, 1).snsTopicArns = {
          subscription: 'arn:aws:sns:eu-west-1:287250355862:aws-mp-subscription-notification-data-suite',
          entitlement: 'arn:aws:sns:us-east-1:287250355862:aws-mp-entitlement-notification-data-suite',
        }),
      path: 'marketplace.products[1].snsTopicArns.subscription',
      says: 'must be a topic in us-east-1',
    },
    {
      what: 'a product code of digits that -c read as a number, with how to quote it',
      breakIt: (config) => (product(config, 0).code = 12345 as unknown as string),
      path: 'marketplace.products[0].code',
      says: `expected string, received number (write it as text: "12345" in cdk.json, '"12345"' with -c, which reads bare digits as a number)`,
    },
    {
      what: "a legacy product's topic that is not an ARN, told alone (not also compared with us-east-1)",
      breakIt: (config) =>
        (product(config, 1).snsTopicArns = {
          subscription: 'arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-data-suite',
          entitlement: 'nope',
        }),
      path: 'marketplace.products[1].snsTopicArns.entitlement',
      says: 'must be an SNS topic ARN',
    },
    {
      what: 'a custom domain outside the hosted zone its alias record would go to',
      breakIt: (config) =>
        (config.api.customDomain = {
          domainName: 'buy.example.com',
          certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e',
          hostedZoneId: 'Z0123456789ABCDEFGHIJ',
          hostedZoneName: 'other.org',
        }),
      path: 'marketplace.api.customDomain.hostedZoneName',
      says: 'must be the zone domainName is in',
    },
    {
      what: 'a region that is not an AWS region name, told alone (not also against the ARNs that must be in it)',
      breakIt: (config) => {
        config['region'] = 'us-east1';
        config['observability'] = { alarmTopicArn: 'arn:aws:sns:us-east-1:123456789012:pager' };
        config.api.customDomain = {
          domainName: 'buy.example.com',
          certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e',
        };
      },
      path: 'marketplace.region',
      says: 'must be an AWS region name',
    },
    {
      what: 'a duplicate product code',
      breakIt: (config) => (product(config, 1).code = product(config, 0).code),
      path: 'marketplace.products[1].code',
      says: 'duplicate product code "analytics-pro-example"',
    },
    {
      what: 'a region that is not an AWS region name',
      breakIt: (config) => (config.marketplaceRegion = 'US East'),
      path: 'marketplace.marketplaceRegion',
      says: 'must be an AWS region name',
    },
    {
      what: 'an unknown key (a typo must not be ignored)',
      breakIt: (config) => (config.tables['removalpolicy'] = 'destroy'),
      path: 'marketplace.tables.removalpolicy',
      says: 'unknown field',
    },
    {
      what: 'an unknown top-level key',
      breakIt: (config) => (config['meteringSchedule'] = 'rate(1 hour)'),
      path: 'marketplace.meteringSchedule',
      says: 'unknown field',
    },
    {
      what: 'EventBridge alone, with a legacy product (its news comes through SNS)',
      breakIt: (config) => (config['lifecycle'] = { eventSources: 'eventbridge' }),
      path: 'marketplace.lifecycle.eventSources',
      says: 'no notifications for products[1] ("data-suite-legacy-example", identityModel legacy): use "sns" or "both"',
    },
    {
      what: 'SNS alone, with a license product (its news comes through EventBridge)',
      breakIt: (config) => (config['lifecycle'] = { eventSources: 'sns' }),
      path: 'marketplace.lifecycle.eventSources',
      says: 'no notifications for products[0] ("analytics-pro-example", identityModel license): use "eventbridge"',
    },
    {
      what: 'no products at all',
      breakIt: (config) => (config.products = []),
      path: 'marketplace.products',
      says: '>=1',
    },
  ];

  test.each(cases)('$what', ({ breakIt, path, says }) => {
    const config = exampleConfig();
    breakIt(config);
    const error = configErrorFor(config);
    expect(error.message).toMatch(/^Invalid configuration \(context "marketplace"\):\n/);
    const problems = problemsByPath(error);
    expect([...problems.keys()], error.message).toEqual([path]);
    expect(problems.get(path)).toContain(says);
  });

  test.each(['', 'not a url', 'javascript:alert(1)', 'ftp://files.example.com/logo.png'])(
    'a web address of %j is refused once, by name, for each field that takes one (no TypeError)',
    (url) => {
      for (const field of ['appUrl', 'supportUrl', 'logoUrl', 'freeTrialLandingUrl'] as const) {
        const config = exampleConfig();
        config.registration[field] = url;
        const lines = configErrorFor(config).message.split('\n').slice(1);
        expect(lines).toEqual([
          `  marketplace.registration.${field}: must be an https URL (http only for localhost, 127.0.0.1 or [::1])`,
        ]);
      }
    },
  );

  test("a number past the safe integers is refused by the field's own bound alone, not also by zod's", () => {
    const config = exampleConfig();
    config['metering'] = { scheduleMinute: 1e20 };
    expect(configErrorFor(config).message.split('\n').slice(1)).toEqual([
      '  marketplace.metering.scheduleMinute: Too big: expected number to be <=59',
    ]);
  });

  test("a webhook URL's password is not repeated in the error, which a terminal or a CI log shows", () => {
    const config = exampleConfig();
    config['notifications'] = { webhookUrl: 'https://user:hunter2@app.example.com/hook' };
    expect(configErrorFor(config).message).not.toContain('hunter2');
  });

  test('an ARN that is not one is told so alone, not also compared with the region', () => {
    const config = exampleConfig();
    config['region'] = 'eu-west-1';
    config.api.customDomain = { domainName: 'buy.example.com', certificateArn: 'my-certificate' };
    config['observability'] = { alarmTopicArn: 'pager' };
    const lines = configErrorFor(config).message.split('\n').slice(1);
    expect(lines.filter((line) => line.includes('certificateArn'))).toEqual([
      expect.stringContaining('must be an ACM certificate ARN'),
    ]);
    expect(lines.filter((line) => line.includes('alarmTopicArn'))).toHaveLength(1);
  });

  test.each([
    ['lifecycle', 'finalMeteringGraceMinutes', 0],
    ['lifecycle', 'finalMeteringGraceMinutes', 361],
    ['metering', 'closedHourGraceMinutes', 51],
    ['metering', 'finalHourMarginMinutes', 61],
    ['metering', 'acceptanceWindowHours', 2],
  ])(
    'one value out of its bounds, %s.%s = %i, is one message: not also compared with the fields it bounds',
    (section, field, value) => {
      const config = exampleConfig();
      config[section] = { [field]: value };
      const lines = configErrorFor(config).message.split('\n').slice(1);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^  marketplace\\.${section}\\.${field}: Too (small|big)`));
    },
  );

  test('every bad field is named at once, not just the first', () => {
    const config = exampleConfig();
    product(config, 0).code = '';
    config.marketplaceRegion = 'nowhere';
    const problems = problemsByPath(configErrorFor(config));
    expect([...problems.keys()].sort()).toEqual(['marketplace.marketplaceRegion', 'marketplace.products[0].code']);
  });
});

describe('configFromContext applies -c overrides', () => {
  test('reads the whole object from a JSON string', () => {
    const example = exampleConfig();
    const fromJson = configFromContext({ [CONFIG_CONTEXT_KEY]: JSON.stringify(example) });
    expect(fromJson).toEqual(example);
  });

  test('applies dotted overrides, parsing values as JSON when they parse', () => {
    const raw = configFromContext({
      ...cdkJsonContext(),
      'marketplace.tables.deletionProtection': 'false',
      'marketplace.products.1.pricingModel': 'contracts',
      'marketplace.products.1.dimensions': JSON.stringify([{ name: 'seats', kind: 'contract' }]),
    });
    const config = parseConfig(raw);
    expect(config.tables.deletionProtection).toBe(false);
    expect(config.products[1]?.dimensions).toEqual([{ name: 'seats', kind: 'contract' }]);
  });

  test('keeps plain string overrides as strings', () => {
    const config = parseConfig(
      configFromContext({
        ...cdkJsonContext(),
        'marketplace.marketplaceRegion': 'eu-west-1',
        'marketplace.tables.removalPolicy': 'destroy',
        'marketplace.products.0.code': 'prod-abc123',
      }),
    );
    expect(config.marketplaceRegion).toBe('eu-west-1');
    expect(config.tables.removalPolicy).toBe('destroy');
    expect(config.products[0]?.code).toBe('prod-abc123');
  });

  test('applies dotted overrides on top of a JSON string and creates missing objects', () => {
    const raw = configFromContext({
      [CONFIG_CONTEXT_KEY]: JSON.stringify({
        products: exampleConfig().products,
        registration: exampleConfig().registration,
      }),
      'marketplace.tables.removalPolicy': 'destroy',
    });
    expect(parseConfig(raw).tables).toEqual({ deletionProtection: false, removalPolicy: 'destroy' });
  });

  test('leaves the context it was given untouched', () => {
    const context = cdkJsonContext();
    const before = structuredClone(context);
    configFromContext({ ...context, 'marketplace.marketplaceRegion': 'eu-west-1' });
    expect(context).toEqual(before);
  });

  test('a value meant as JSON that does not parse is named as such, not refused later as a string', () => {
    expect(() => configFromContext({ [CONFIG_CONTEXT_KEY]: '{"products":' })).toThrow(
      /^Invalid configuration \(context "marketplace"\): its value is not valid JSON \(/,
    );
    expect(() =>
      configFromContext({ ...cdkJsonContext(), 'marketplace.observability': '{"alarmEmail": ops@example.com}' }),
    ).toThrow(/context "marketplace\.observability"\): its value is not valid JSON/);
    expect(() => configFromContext({ [CONFIG_CONTEXT_KEY]: '{' })).toThrow(ConfigError);
    // Free text that only starts with a brace is text, as before.
    const named = configFromContext({ ...cdkJsonContext(), 'marketplace.products.0.name': '{Beta} Pro' });
    expect(parseConfig(named).products[0]?.name).toBe('{Beta} Pro');
  });

  test('a cdk.json that is not JSON is named, with the line and column where it breaks', () => {
    const text = '{\n  "context": {\n    "a": 1\n    "b": 2\n  }\n}\n';
    expect(() => contextOfCdkJson(text)).toThrow(ConfigError);
    expect(() => contextOfCdkJson(text)).toThrow(/^cdk\.json is not valid JSON: .*line 4,? column 5/);
    expect(contextOfCdkJson('{"context":{"a":1}}')).toEqual({ a: 1 });
  });

  test('a -c path through an inherited name is refused, once, and reaches no other object', () => {
    const inherited: [key: string, name: string][] = [
      ['marketplace.__proto__.x', '__proto__'],
      ['marketplace.products.0.constructor.prototype.x', 'constructor'],
    ];
    for (const [key, name] of inherited) {
      expect(() => configFromContext({ ...cdkJsonContext(), [key]: '1' }), key).toThrow(
        new ConfigError(`Invalid configuration: context "${key}": ${name} is not a setting`),
      );
    }
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
  });

  test('a -c path naming a list item other than by number is refused rather than set where nothing reads it', () => {
    for (const segment of ['x', '-1', '01', 'first', '3', '99999999']) {
      const key = `marketplace.products.${segment}.code`;
      expect(() => configFromContext({ ...cdkJsonContext(), [key]: 'abc' }), key).toThrow(
        `context "${key}": products is a list of 2, indexed by number from 0 to 2 (2 adds one: products.0.code sets ` +
          `the first), not "${segment}"`,
      );
    }
    const indexed = configFromContext({ ...cdkJsonContext(), 'marketplace.products.1.code': 'abc' });
    expect(parseConfig(indexed).products[1]?.code).toBe('abc');
  });

  test('a setting beside marketplace, or under a misspelt name, is refused rather than ignored', () => {
    const misplaced: [key: string, meant: string][] = [
      ['region', 'marketplace.region'],
      ['api.throttling.usage.rateLimit', 'marketplace.api.throttling.usage.rateLimit'],
      ['marketplac.region', 'marketplace.region'],
      ['Marketplace.region', 'marketplace.region'],
      ['makretplace.tables.removalPolicy', 'marketplace.tables.removalPolicy'],
    ];
    for (const [key, meant] of misplaced) {
      expect(() => configFromContext({ ...cdkJsonContext(), [key]: 'eu-west-1' }), key).toThrow(
        `Invalid configuration: context "${key}" is not read (every setting goes under "marketplace"): did you mean -c ${meant}=...?`,
      );
    }
    // The CDK's own context, and names that only look alike, are left alone.
    for (const key of [
      '@aws-cdk/core:newStyleStackSynthesis',
      'aws:cdk:enable-path-metadata',
      'allowExampleProducts',
    ]) {
      expect(() => configFromContext({ ...cdkJsonContext(), [key]: true }), key).not.toThrow();
    }
  });

  test('a custom domain in its zone, the zone itself or a parent, and in any case', () => {
    for (const [domainName, hostedZoneName] of [
      ['buy.example.com', 'example.com'],
      ['buy.example.com', 'Example.COM.'],
      ['example.com', 'example.com'],
      ['a.b.example.com', 'b.example.com'],
    ]) {
      const config = exampleConfig();
      config.api.customDomain = {
        domainName,
        certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e',
        hostedZoneId: 'Z0123456789ABCDEFGHIJ',
        hostedZoneName,
      };
      expect(() => parseConfig(config), `${domainName} in ${hostedZoneName}`).not.toThrow();
    }
  });

  test('an override that breaks the configuration is named by its path', () => {
    const raw = configFromContext({ ...cdkJsonContext(), 'marketplace.products.0.code': 'bad code' });
    expect([...problemsByPath(configErrorFor(raw)).keys()]).toEqual(['marketplace.products[0].code']);
  });
});
