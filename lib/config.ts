/**
 * The seller's configuration: one typed, validated object read from the `marketplace` key of the CDK context
 * (`cdk.json`, overridable with `-c`). `npm start` reads the same object, so the local stack sells the same products.
 */
import { z } from 'zod';

/** The context key that holds the configuration in `cdk.json`. */
export const CONFIG_CONTEXT_KEY = 'marketplace';

const productCodePattern = /^[-a-zA-Z0-9/=:_.@]{1,255}$/;

const dimensionSchema = z.strictObject({
  /** The dimension's API name as listed in the Marketplace product (what `BatchMeterUsage` sends). */
  name: z.string().min(1).max(255),
  description: z.string().max(500).optional(),
  /** `metered`: billed from usage records; `contract`: bought up front, read with `GetEntitlements`. */
  kind: z.enum(['metered', 'contract']),
});

/** A Marketplace product as the seller lists it. The simulator's control API takes the same shape. */
export const productSchema = z
  .strictObject({
    code: z
      .string()
      .regex(productCodePattern, 'must be a Marketplace product code (1-255 of A-Z a-z 0-9 - / = : _ . @)'),
    name: z.string().min(1).max(200),
    pricingModel: z.enum(['subscriptions', 'contracts', 'contracts-with-consumption']),
    /**
     * How buyers of this product are identified. `license` (Concurrent Agreements, every product listed since June
     * 2026): `CustomerAWSAccountId` + `LicenseArn`. `legacy`: `CustomerIdentifier` + `ProductCode`.
     */
    identityModel: z.enum(['license', 'legacy']).default('license'),
    dimensions: z.array(dimensionSchema).min(1).max(200),
    /**
     * The product's SNS topics (legacy products). By default the ARNs AWS Marketplace uses for every product:
     * `arn:aws:sns:us-east-1:287250355862:aws-mp-{subscription,entitlement}-notification-<code>`.
     */
    snsTopicArns: z
      .strictObject({
        subscription: z.string().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+$/, 'must be an SNS topic ARN'),
        entitlement: z.string().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+$/, 'must be an SNS topic ARN'),
      })
      .optional(),
  })
  .superRefine((product, ctx) => {
    const names = product.dimensions.map((dimension) => dimension.name);
    names.forEach((name, index) => {
      if (names.indexOf(name) !== index) {
        ctx.addIssue({ code: 'custom', path: ['dimensions', index, 'name'], message: `duplicate dimension "${name}"` });
      }
    });
    const kinds = new Set(product.dimensions.map((dimension) => dimension.kind));
    const wrongKind = (message: string) => ctx.addIssue({ code: 'custom', path: ['dimensions'], message });
    if (product.pricingModel === 'subscriptions' && kinds.has('contract')) {
      wrongKind('a subscriptions product has only metered dimensions');
    }
    if (product.pricingModel === 'contracts' && kinds.has('metered')) {
      wrongKind('a contracts product has only contract dimensions (use contracts-with-consumption to meter usage)');
    }
    if (product.pricingModel === 'contracts-with-consumption' && !kinds.has('metered')) {
      wrongKind('a contracts-with-consumption product needs at least one metered dimension');
    }
  });

/** Links a buyer follows: web addresses only (a `javascript:` URL in a link would run in the buyer's page). */
const webUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

const registrationFields = ['company', 'contactName', 'email', 'phone'] as const;

const registrationSchema = z
  .strictObject({
    /** Where registered buyers sign in to the seller's app. */
    appUrl: webUrl,
    supportEmail: z.email().optional(),
    supportUrl: webUrl.optional(),
    /** Shown at the top of every page; only images from this URL's origin are allowed by the pages' policy. */
    logoUrl: webUrl.optional(),
    /** Which of the registration form's fields a buyer must fill in. */
    requiredFields: z
      .array(z.enum(registrationFields))
      .refine((fields) => new Set(fields).size === fields.length, 'lists a field twice')
      .default(['company', 'contactName', 'email']),
    /** Where free-trial buyers go once registered (default: `appUrl`). */
    freeTrialLandingUrl: webUrl.optional(),
    /** How long the link from the fulfillment URL to the registration page stays valid. */
    sessionMinutes: z
      .number()
      .int()
      .min(5)
      .max(24 * 60)
      .default(60),
  })
  .refine((registration) => registration.supportEmail !== undefined || registration.supportUrl !== undefined, {
    message: 'give supportEmail or supportUrl: AWS Marketplace requires a support contact on the registration page',
  });

const apiSchema = z
  .strictObject({
    /** Stage-wide limits: the fulfillment URL sees a handful of buyers a minute, not thousands. */
    throttling: z
      .strictObject({
        rateLimit: z.number().positive().default(10),
        burstLimit: z.number().int().positive().default(20),
      })
      .prefault({}),
    /** An optional WAF web ACL with a per-IP rate-based rule in front of the API. */
    waf: z
      .strictObject({
        enabled: z.boolean().default(false),
        requestsPerFiveMinutes: z.number().int().min(10).max(2_000_000_000).default(300),
      })
      .prefault({}),
    /** Serve the API on your own domain (an ACM certificate in the stack's region); optionally add a Route 53 alias. */
    customDomain: z
      .strictObject({
        domainName: z
          .string()
          .regex(/^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/, 'must be a domain name'),
        certificateArn: z
          .string()
          .regex(/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[\w-]+$/, 'must be an ACM certificate ARN'),
        hostedZoneId: z.string().optional(),
        hostedZoneName: z.string().optional(),
      })
      .refine((domain) => (domain.hostedZoneId === undefined) === (domain.hostedZoneName === undefined), {
        message: 'give both hostedZoneId and hostedZoneName, or neither',
      })
      .optional(),
  })
  .prefault({});

export const configSchema = z
  .strictObject({
    products: z.array(productSchema).min(1),
    /** Where the Marketplace metering and entitlement APIs are called. us-east-1 unless Seller Ops enabled another. */
    marketplaceRegion: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region name such as us-east-1')
      .default('us-east-1'),
    registration: registrationSchema,
    /** The seller's own event bus: where this backend tells the seller's app what happened. */
    events: z
      .strictObject({
        /** `source` of the events this backend publishes. */
        source: z
          .string()
          .regex(/^[A-Za-z0-9._-]{1,256}$/, 'must be 1-256 letters, digits, dots, dashes or underscores')
          .refine((source) => !source.startsWith('aws.'), 'must not start with "aws." (reserved by AWS)')
          .default('saas-marketplace'),
      })
      .prefault({}),
    notifications: z
      .strictObject({
        /** Gets an email (through SNS) for every buyer who registers. */
        adminEmail: z.email().optional(),
        /** Your app's HTTPS endpoint for signed webhook calls with every event on your bus. */
        webhookUrl: z.url({ protocol: /^https$/, error: 'must be an https URL' }).optional(),
      })
      .prefault({}),
    lifecycle: z
      .strictObject({
        /**
         * Which of Marketplace's notification families to receive: EventBridge (for `license` products) and the
         * legacy SNS topics (for `legacy` products). By default, what the products need: `both` when they are mixed.
         */
        eventSources: z.enum(['eventbridge', 'sns', 'both']).optional(),
        /** How long after a cancellation final usage is accepted (AWS: about an hour). */
        finalMeteringGraceMinutes: z
          .number()
          .int()
          .min(1)
          .max(24 * 60)
          .default(60),
      })
      .prefault({}),
    metering: z
      .strictObject({
        /** The minute of each hour the metering run starts (AWS's own example runs at minute 10). */
        scheduleMinute: z.number().int().min(0).max(59).default(10),
        /**
         * How long after an hour has ended its bucket still takes late usage before a run freezes and meters it.
         * Usage arriving later still is carried into the current hour, never lost.
         */
        closedHourGraceMinutes: z.number().int().min(0).max(50).default(5),
        /**
         * How long after its hour Marketplace accepts a record: 24 h today (older documents say 6 h). At least 3: usage
         * is taken only for hours a run can still bill, and a run reaches an hour up to two hours after its start.
         */
        acceptanceWindowHours: z.number().int().min(3).max(24).default(24),
        /**
         * How long before an ending subscriber's final-metering deadline its final (partial) hour is frozen and sent:
         * until then late usage of that hour is still taken, and within it a failed send is retried every minute.
         * Less than `lifecycle.finalMeteringGraceMinutes`.
         */
        finalHourMarginMinutes: z.number().int().min(1).max(60).default(15),
        /** Send a zero-quantity record every hour for live subscribers without usage, as AWS asks. */
        zeroUsageRecords: z.boolean().default(true),
        /** `BatchMeterUsage` calls per second at most: AWS's quota is 10 per account and region. */
        callsPerSecond: z.number().positive().max(100).default(10),
        /** How long a usage event's id is remembered, so that sending the event again counts it once. */
        eventIdRetentionDays: z.number().int().min(2).max(365).default(35),
      })
      .prefault({})
      .superRefine((metering, ctx) => {
        if (metering.scheduleMinute < metering.closedHourGraceMinutes) {
          ctx.addIssue({
            code: 'custom',
            path: ['scheduleMinute'],
            message:
              'must not be before closedHourGraceMinutes: the run would find the previous hour still open and meter ' +
              'it an hour late',
          });
        }
      }),
    /**
     * The region the stack deploys to, when it is not us-east-1. Marketplace sends its notifications to us-east-1
     * only: with another region here, the app also deploys a small stack there that forwards them.
     */
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region name such as eu-west-1')
      .optional(),
    api: apiSchema,
    tables: z
      .strictObject({
        /** What `cdk destroy` does with the tables: keep them (default) or delete them with the stack. */
        removalPolicy: z.enum(['retain', 'destroy']).default('retain'),
        /**
         * Refuse `DeleteTable` until turned off: the tables hold what buyers owe. Defaults to on for retained tables
         * and off for tables the stack may destroy (a protected table would make `cdk destroy` fail).
         */
        deletionProtection: z.boolean().optional(),
      })
      .prefault({})
      .superRefine((tables, ctx) => {
        if (tables.removalPolicy === 'destroy' && tables.deletionProtection === true) {
          ctx.addIssue({
            code: 'custom',
            path: ['deletionProtection'],
            message: 'must be false when removalPolicy is "destroy" (a protected table cannot be destroyed)',
          });
        }
      })
      .transform((tables) => ({
        removalPolicy: tables.removalPolicy,
        deletionProtection: tables.deletionProtection ?? tables.removalPolicy === 'retain',
      })),
  })
  .superRefine((config, ctx) => {
    if (config.metering.finalHourMarginMinutes >= config.lifecycle.finalMeteringGraceMinutes) {
      ctx.addIssue({
        code: 'custom',
        path: ['metering', 'finalHourMarginMinutes'],
        message:
          'must be less than lifecycle.finalMeteringGraceMinutes: the final hour is sent this long before the ' +
          'final-metering deadline, which falls that long after a cancellation',
      });
    }
    const codes = config.products.map((product) => product.code);
    codes.forEach((code, index) => {
      if (codes.indexOf(code) !== index) {
        ctx.addIssue({
          code: 'custom',
          path: ['products', index, 'code'],
          message: `duplicate product code "${code}"`,
        });
      }
    });
    const { eventSources } = config.lifecycle;
    if (eventSources === undefined) return;
    config.products.forEach((product, index) => {
      const needed = sourceServing(product.identityModel);
      if (eventSources !== needed && eventSources !== 'both') {
        ctx.addIssue({
          code: 'custom',
          path: ['lifecycle', 'eventSources'],
          message: `"${eventSources}" brings no notifications for products[${index}] ("${product.code}", identityModel ${product.identityModel}): use "${needed}" or "both"`,
        });
      }
    });
  })
  .transform((config) => ({
    ...config,
    lifecycle: { ...config.lifecycle, eventSources: config.lifecycle.eventSources ?? sourcesNeededBy(config.products) },
  }));

type EventSource = 'eventbridge' | 'sns';

/** Marketplace tells `license` products' news through EventBridge, `legacy` products' through their SNS topics. */
function sourceServing(identityModel: 'license' | 'legacy'): EventSource {
  return identityModel === 'license' ? 'eventbridge' : 'sns';
}

function sourcesNeededBy(products: readonly { identityModel: 'license' | 'legacy' }[]): EventSource | 'both' {
  const needed = new Set(products.map((product) => sourceServing(product.identityModel)));
  return needed.size === 1 ? [...needed][0]! : 'both';
}

export type Config = z.infer<typeof configSchema>;
export type ProductConfig = Config['products'][number];
export type DimensionConfig = ProductConfig['dimensions'][number];

/** A configuration that does not validate; the message names every offending field. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Validates a raw configuration object; throws {@link ConfigError} naming each bad field. */
export function parseConfig(raw: unknown): Config {
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => `  ${formatPath([...issue.path, key])}: unknown field (check its spelling)`)
      : [`  ${formatPath(issue.path)}: ${issue.message}`],
  );
  throw new ConfigError(`Invalid configuration (context "${CONFIG_CONTEXT_KEY}"):\n${lines.join('\n')}`);
}

/**
 * Builds the raw configuration from CDK context: the `marketplace` object (an object from `cdk.json`, or a JSON
 * string from `-c marketplace='{...}'`), then any dotted overrides such as `-c marketplace.tables.removalPolicy=destroy`
 * (values parsed as JSON when they parse, kept as strings otherwise).
 */
export function configFromContext(context: Record<string, unknown>): unknown {
  const base = parseContextValue(context[CONFIG_CONTEXT_KEY]) ?? {};
  const prefix = `${CONFIG_CONTEXT_KEY}.`;
  const overrides = Object.entries(context).filter(([key]) => key.startsWith(prefix));
  if (overrides.length === 0) return base;
  const merged: unknown = structuredClone(base);
  for (const [key, value] of overrides) {
    setPath(merged, key.slice(prefix.length).split('.'), parseContextValue(value));
  }
  return merged;
}

function parseContextValue(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

function setPath(target: unknown, path: string[], value: unknown): void {
  let node = target as Record<string, unknown>;
  path.forEach((segment, index) => {
    if (index === path.length - 1) {
      node[segment] = value;
      return;
    }
    const next = node[segment];
    if (typeof next !== 'object' || next === null) node[segment] = {};
    node = node[segment] as Record<string, unknown>;
  });
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (text, segment) => (typeof segment === 'number' ? `${text}[${segment}]` : `${text}.${String(segment)}`),
    CONFIG_CONTEXT_KEY,
  );
}
