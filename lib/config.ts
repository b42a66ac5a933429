/**
 * The seller's configuration: one typed, validated object read from the `marketplace` key of the CDK context
 * (`cdk.json`, overridable with `-c`). `npm start` reads the same object, so the local stack sells the same products.
 */
import { z } from 'zod';
import {
  MARKETPLACE_HOME_REGION,
  MONTH_END_CUTOFF_HOURS,
  PRODUCT_CODE_PATTERN,
  REGION_NAME_PATTERN,
  REGISTRATION_FIELDS,
} from '../contracts/index.ts';

/**
 * Whether a field at one of `paths` was refused by its own rules: a cross-field check over it would only add a second,
 * misleading message about the one bad value.
 */
function refusedAlready(ctx: z.RefinementCtx, ...paths: readonly (readonly PropertyKey[])[]): boolean {
  return ctx.issues.some((issue) => paths.some((path) => path.every((key, index) => issue.path?.[index] === key)));
}

/** The context key that holds the configuration in `cdk.json`. */
export const CONFIG_CONTEXT_KEY = 'marketplace';

/** The region an ARN names (its fourth field; empty for a global resource). */
export const regionOfArn = (arn: string) => arn.split(':')[3];

/** Whether `domain` is `zone` or a name under it (both case-insensitive, a trailing dot ignored). */
const isInZone = (domain: string, zone: string) => {
  const name = domain.toLowerCase().replace(/\.$/, '');
  const parent = zone.toLowerCase().replace(/\.$/, '');
  return name === parent || name.endsWith(`.${parent}`);
};

const snsTopicArn = z.string().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+$/, 'must be an SNS topic ARN');

const dimensionSchema = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(255)
    .describe("The dimension's API name as listed in the Marketplace product (what BatchMeterUsage sends)."),
  description: z.string().max(500).optional().describe('What the dimension counts, for people reading usage reports.'),
  kind: z
    .enum(['metered', 'contract'])
    .describe('`metered`: billed from usage records; `contract`: bought up front, read with GetEntitlements.'),
});

/** A Marketplace product as the seller lists it. The simulator's control API takes the same shape. */
export const productSchema = z
  .strictObject({
    code: z
      .string()
      .regex(PRODUCT_CODE_PATTERN, 'must be a Marketplace product code (1-255 of A-Z a-z 0-9 - / = : _ . @)')
      .describe(
        'The product code from the AWS Marketplace Management Portal. Codes ending in `-example` are refused by ' +
          '`cdk synth` and `cdk deploy` unless `-c allowExampleProducts=true`.',
      ),
    name: z.string().min(1).max(200).describe('The product name buyers see on the registration page.'),
    pricingModel: z
      .enum(['subscriptions', 'contracts', 'contracts-with-consumption'])
      .describe('The pricing model the product is listed with.'),
    identityModel: z
      .enum(['license', 'legacy'])
      .default('license')
      .describe(
        'How buyers of this product are identified. `license` (Concurrent Agreements, every product listed since ' +
          'June 2026): CustomerAWSAccountId + LicenseArn. `legacy`: CustomerIdentifier + ProductCode.',
      ),
    dimensions: z
      .array(dimensionSchema)
      .min(1)
      .max(200)
      .describe(
        'The pricing dimensions, exactly as listed in the product. The metered ones of all products travel in the ' +
          "metering functions' environment, which Lambda caps at 4 KB: about 2,500 bytes of their names fit (some " +
          '100 names of 20 characters), and `npm run synth` refuses more.',
      ),
    snsTopicArns: z
      .strictObject({
        subscription: snsTopicArn.describe("The product's subscription notification topic."),
        entitlement: snsTopicArn.describe("The product's entitlement notification topic."),
      })
      .optional()
      .describe(
        "The product's SNS topics (legacy products only), in us-east-1. By default the ARNs AWS Marketplace uses for " +
          'every product: `arn:aws:sns:us-east-1:287250355862:aws-mp-{subscription,entitlement}-notification-<code>`.',
      ),
  })
  .superRefine((product, ctx) => {
    if (product.identityModel === 'license' && product.snsTopicArns !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['snsTopicArns'],
        message:
          'only a legacy product has SNS topics (a license-model product is told by EventBridge): remove it, or set ' +
          'identityModel to "legacy"',
      });
    }
    // Every subscription to them is made in us-east-1, by the main stack or the forwarder deployed there.
    for (const kind of ['subscription', 'entitlement'] as const) {
      const arn = product.snsTopicArns?.[kind];
      if (arn !== undefined && snsTopicArn.safeParse(arn).success && regionOfArn(arn) !== MARKETPLACE_HOME_REGION) {
        ctx.addIssue({
          code: 'custom',
          path: ['snsTopicArns', kind],
          message: `must be a topic in ${MARKETPLACE_HOME_REGION}, where Marketplace's SNS topics are`,
        });
      }
    }
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

/**
 * Links a buyer follows: web addresses only (a `javascript:` URL in a link would run in the buyer's page), and over
 * https, as the pages themselves are (a logo over http is blocked as mixed content, a sign-in link would leave TLS),
 * except on this machine, for a seller trying the stack with their own app running locally.
 */
const WEB_URL_RULE = 'must be an https URL (http only for localhost, 127.0.0.1 or [::1])';
/**
 * A user name or password in the webhook's URL: fetch refuses to call such a URL, so every event would end in the
 * dead-letter queue, and the password would sit in the function's environment and logs. The signature is the webhook's
 * authentication.
 */
export const WEBHOOK_URL_CREDENTIALS =
  'must not hold a user name or password (no call can be made to such a URL): your endpoint checks the signature';

export function hasCredentials(url: string): boolean {
  const parsed = URL.parse(url);
  return parsed !== null && (parsed.username !== '' || parsed.password !== '');
}

const webUrl = z.url({ protocol: /^https?$/, error: WEB_URL_RULE }).refine((url) => {
  const parsed = URL.parse(url);
  // zod runs this check on what the URL check refused too: that is already reported, once.
  if (parsed?.protocol !== 'http:') return true;
  return ['localhost', '127.0.0.1', '[::1]'].includes(parsed.hostname);
}, WEB_URL_RULE);

const registrationSchema = z
  .strictObject({
    appUrl: webUrl.describe("Where registered buyers sign in to the seller's app."),
    supportEmail: z.email().optional().describe('The support address shown on the registration page.'),
    supportUrl: webUrl.optional().describe('The support page linked from the registration page.'),
    logoUrl: webUrl
      .optional()
      .describe("Shown at the top of every page; only images from this URL's origin are allowed by the pages' policy."),
    requiredFields: z
      .array(z.enum(REGISTRATION_FIELDS))
      .refine((fields) => new Set(fields).size === fields.length, 'lists a field twice')
      .default(['company', 'contactName', 'email'])
      .describe("Which of the registration form's fields a buyer must fill in."),
    freeTrialLandingUrl: webUrl
      .optional()
      .describe(
        'Where free-trial buyers are sent once registered, confirmed by Marketplace or not yet (the access check ' +
          'answers `allowed` once it is). Unset, they see "You are set up" with `appUrl`, as other buyers do.',
      ),
    sessionMinutes: z
      .number()
      .int()
      .min(5)
      .max(24 * 60)
      .default(60)
      .describe('How long the link from the fulfillment URL to the registration page stays valid.'),
  })
  .refine((registration) => registration.supportEmail !== undefined || registration.supportUrl !== undefined, {
    message: 'give supportEmail or supportUrl: AWS Marketplace requires a support contact on the registration page',
  })
  .describe(
    'The registration page buyers land on after subscribing. Give supportEmail or supportUrl. Links and addresses on ' +
      'example.com (the shipped ones) or localhost are refused by `cdk synth` and `cdk deploy` unless ' +
      '`-c allowExampleProducts=true`, as are notifications.adminEmail, notifications.webhookUrl and ' +
      'observability.alarmEmail.',
  );

/** The largest integer a CloudFormation property takes: a larger burst synthesizes and then fails the deploy. */
const MAX_TEMPLATE_INTEGER = 2_147_483_647;

/** A route's limits: requests a second on average, and how many may arrive at once above that average. */
const routeThrottleSchema = (rateLimit: number, burstLimit: number, description: string) =>
  z
    .strictObject({
      rateLimit: z.number().positive().default(rateLimit).describe('Requests a second, on average.'),
      burstLimit: z
        .number()
        .int()
        .positive()
        .max(MAX_TEMPLATE_INTEGER)
        .default(burstLimit)
        .describe('Requests that may arrive at once above the average.'),
    })
    .prefault({})
    .describe(description);

const apiSchema = z
  .strictObject({
    throttling: z
      .strictObject({
        // Buyers arrive a few a minute: 50 a second absorbs a launch-day rush and caps a client flooding the public
        // pages long before it reaches the account quota.
        buyerPages: routeThrottleSchema(50, 100, 'The fulfillment URL and the registration page, each.'),
        accessCheck: routeThrottleSchema(
          200,
          400,
          "`GET /subscribers/{id}`: the seller's app asks when its users sign in (cache the answer for a minute).",
        ),
        usage: routeThrottleSchema(
          500,
          1000,
          '`POST /usage`: up to 50 events a call, so 500 calls a second record 25,000 usage events a second.',
        ),
      })
      .prefault({})
      .describe(
        "API Gateway's throttling, per method: each kind of route gets its own allowance, so that a flood on one " +
          "never takes another's. The defaults together (800 requests a second) stay well inside the account's API " +
          'Gateway quota in a region (10,000 a second by default, shared by every API of the account).',
      ),
    waf: z
      .strictObject({
        enabled: z.boolean().default(false).describe('Put the web ACL in front of the API.'),
        requestsPerFiveMinutes: z
          .number()
          .int()
          .min(10)
          .max(2_000_000_000)
          .default(300)
          .describe(
            'Requests one IP address may send to the buyer pages in five minutes before it is answered 429 ' +
              '(requests to `POST /usage` and `GET /subscribers/{id}` are not counted, signed or not).',
          ),
      })
      .prefault({})
      .describe('An optional WAF web ACL in front of the API, with a per-IP rate-based rule on the buyer pages.'),
    customDomain: z
      .strictObject({
        domainName: z
          .string()
          .regex(/^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/, 'must be a domain name')
          .describe('The domain the API is served on, such as buy.example.com.'),
        certificateArn: z
          .string()
          .regex(/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[\w-]+$/, 'must be an ACM certificate ARN')
          .describe("An ACM certificate for the domain, in the stack's region."),
        hostedZoneId: z
          .string()
          .optional()
          .describe('The Route 53 hosted zone to add the alias record to (with hostedZoneName, or neither).'),
        hostedZoneName: z
          .string()
          .optional()
          .describe("That hosted zone's name (with hostedZoneId, or neither): domainName must be in it."),
      })
      .refine((domain) => (domain.hostedZoneId === undefined) === (domain.hostedZoneName === undefined), {
        message: 'give both hostedZoneId and hostedZoneName, or neither',
      })
      .refine((domain) => domain.hostedZoneName === undefined || isInZone(domain.domainName, domain.hostedZoneName), {
        path: ['hostedZoneName'],
        message:
          'must be the zone domainName is in (the zone itself or a parent): Route 53 refuses a record outside it',
      })
      .optional()
      .describe(
        "Serve the API on your own domain (an ACM certificate in the stack's region); optionally add a Route 53 alias.",
      ),
  })
  .prefault({})
  .describe('The REST API: its limits, an optional web firewall and an optional domain of your own.');

export const configSchema = z
  .strictObject({
    products: z
      .array(productSchema)
      .min(1)
      .describe(
        "The products this deployment sells. Each one's code and name travel in the functions' environment, which " +
          'Lambda caps at 4 KB: some 24 products with names of 30 characters fit (fewer with metered dimensions), and ' +
          '`npm run synth` refuses more, naming what to shorten.',
      ),
    marketplaceRegion: z
      .string()
      .regex(REGION_NAME_PATTERN, 'must be an AWS region name such as us-east-1')
      .default(MARKETPLACE_HOME_REGION)
      .describe(
        'Where the Marketplace metering and entitlement APIs are called. us-east-1 unless Seller Ops enabled another.',
      ),
    registration: registrationSchema,
    events: z
      .strictObject({
        source: z
          .string()
          .regex(/^[A-Za-z0-9._-]{1,256}$/, 'must be 1-256 letters, digits, dots, dashes or underscores')
          .refine((source) => !source.startsWith('aws.'), 'must not start with "aws." (reserved by AWS)')
          .default('saas-marketplace')
          .describe('`source` of the events this backend publishes.'),
      })
      .prefault({})
      .describe("The seller's own event bus: where this backend tells the seller's app what happened."),
    notifications: z
      .strictObject({
        adminEmail: z.email().optional().describe('Gets an email (through SNS) for every buyer who registers.'),
        webhookUrl: z
          .url({ protocol: /^https$/, error: 'must be an https URL' })
          .refine((url) => !hasCredentials(url), WEBHOOK_URL_CREDENTIALS)
          .optional()
          .describe(
            "Your app's HTTPS endpoint for signed webhook calls with every event on your bus (no user name or password " +
              'in it: the signature authenticates the calls).',
          ),
      })
      .prefault({})
      .describe('Who else hears of subscribers: an admin by email, your app by webhook.'),
    lifecycle: z
      .strictObject({
        eventSources: z
          .enum(['eventbridge', 'sns', 'both'])
          .optional()
          .describe(
            "Which of Marketplace's notification families to receive: EventBridge (for `license` products) and the " +
              'legacy SNS topics (for `legacy` products). By default, what the products need: `both` when they are mixed.',
          ),
        finalMeteringGraceMinutes: z
          .number()
          .int()
          .min(1)
          .max(MONTH_END_CUTOFF_HOURS * 60)
          .default(60)
          .describe(
            'How long after a cancellation Marketplace takes its final usage (AWS: about an hour): the final-metering ' +
              "deadline. At most the acceptance window less an hour, and 6 h: a cancellation's final hour is sent up " +
              "to this long after it ends, and a month's last hour is accepted only until 06:00 UTC on the 1st.",
          ),
      })
      .prefault({})
      .describe("How subscribers' state follows Marketplace's notifications."),
    metering: z
      .strictObject({
        scheduleMinute: z
          .number()
          .int()
          .min(0)
          .max(59)
          .default(10)
          .describe(
            "The minute of each hour the metering run starts (AWS's own example runs at minute 10); not before " +
              'closedHourGraceMinutes, or the run would find the previous hour still open.',
          ),
        closedHourGraceMinutes: z
          .number()
          .int()
          .min(0)
          .max(50)
          .default(5)
          .describe(
            'How long after an hour has ended its bucket still takes late usage before a run freezes and meters it. ' +
              'Usage arriving later still is carried into the current hour, never lost.',
          ),
        acceptanceWindowHours: z
          .number()
          .int()
          .min(3)
          .max(24)
          .default(24)
          .describe(
            'How long after its hour Marketplace accepts a record: 24 h today (older documents say 6 h). At least 3: ' +
              'usage is taken only for hours a run can still bill, and a run reaches an hour up to two hours after its start.',
          ),
        finalHourMarginMinutes: z
          .number()
          .int()
          .min(1)
          .max(60)
          .default(15)
          .describe(
            "How long before an ending subscriber's final-metering deadline its final (partial) hour is frozen and " +
              'sent: until then late usage of that hour is still taken, and within it a failed send is retried every ' +
              'minute. Less than `lifecycle.finalMeteringGraceMinutes`.',
          ),
        zeroUsageRecords: z
          .boolean()
          .default(true)
          .describe(
            'Send a zero-quantity record every hour for live subscribers without usage, as AWS asks (not for a buyer ' +
              'whose Marketplace identity is not yet known, e.g. a subscription event that arrived before the buyer).',
          ),
        callsPerSecond: z
          .number()
          .positive()
          .max(100)
          .default(10)
          .describe("BatchMeterUsage calls per second at most: AWS's quota is 10 per account and region."),
        eventIdRetentionDays: z
          .number()
          .int()
          .min(2)
          .max(365)
          .default(35)
          .describe("How long a usage event's id is remembered, so that sending the event again counts it once."),
      })
      .prefault({})
      .superRefine((metering, ctx) => {
        if (
          metering.scheduleMinute < metering.closedHourGraceMinutes &&
          !refusedAlready(ctx, ['scheduleMinute'], ['closedHourGraceMinutes'])
        ) {
          ctx.addIssue({
            code: 'custom',
            path: ['scheduleMinute'],
            message:
              'must not be before closedHourGraceMinutes: the run would find the previous hour still open and meter ' +
              'it an hour late',
          });
        }
      })
      .describe('How usage is billed: the hourly run, its windows and its pace.'),
    region: z
      .string()
      .regex(REGION_NAME_PATTERN, 'must be an AWS region name such as eu-west-1')
      .optional()
      .describe(
        'The region the stack deploys to, when it is not us-east-1. Marketplace sends its notifications to us-east-1 ' +
          'only: with another region here, the app also deploys a small stack there that forwards them.',
      ),
    api: apiSchema,
    observability: z
      .strictObject({
        alarmEmail: z
          .email()
          .optional()
          .describe(
            'Gets every alarm when it goes off and when it clears. SNS sends the address a confirmation link after ' +
              'the first deployment: nothing arrives until it is followed.',
          ),
        alarmTopicArn: snsTopicArn
          .optional()
          .describe(
            'An SNS topic of yours that every alarm notifies too, to reach PagerDuty, Slack (AWS Chatbot) or anything ' +
              "else SNS delivers to. In the stack's region (CloudWatch notifies topics of its own region only); its " +
              'policy must let CloudWatch publish, and its key, if it has one, let CloudWatch use it.',
          ),
        tracing: z
          .boolean()
          .default(true)
          .describe('X-Ray traces of the API, every function and the metering run. Off: nothing is sent to X-Ray.'),
      })
      .prefault({})
      .describe('Who hears of trouble, and what is traced.'),
    tables: z
      .strictObject({
        removalPolicy: z
          .enum(['retain', 'destroy'])
          .default('retain')
          .describe('What `cdk destroy` does with the tables: keep them (default) or delete them with the stack.'),
        deletionProtection: z
          .boolean()
          .optional()
          .describe(
            'Refuse DeleteTable until turned off: the tables hold what buyers owe. Defaults to on for retained ' +
              'tables and off for tables the stack may destroy (a protected table would make `cdk destroy` fail).',
          ),
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
      }))
      .describe('The DynamoDB tables: what happens to them when the stack goes.'),
  })
  .superRefine((config, ctx) => {
    const grace = ['lifecycle', 'finalMeteringGraceMinutes'];
    if (
      config.metering.finalHourMarginMinutes >= config.lifecycle.finalMeteringGraceMinutes &&
      !refusedAlready(ctx, ['metering', 'finalHourMarginMinutes'], grace)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['metering', 'finalHourMarginMinutes'],
        message:
          'must be less than lifecycle.finalMeteringGraceMinutes: the final hour is sent this long before the ' +
          'final-metering deadline, which falls that long after a cancellation',
      });
    }
    // A cancellation in an hour's last minute leaves its usage to be sent up to the grace after the hour ends: within
    // the hour's acceptance, which a month's last hour has only until the month-end cut-off.
    const acceptedForHours = Math.min(config.metering.acceptanceWindowHours, MONTH_END_CUTOFF_HOURS + 1);
    const longestGraceMinutes = (acceptedForHours - 1) * 60;
    if (
      config.lifecycle.finalMeteringGraceMinutes > longestGraceMinutes &&
      !refusedAlready(ctx, grace, ['metering', 'acceptanceWindowHours'])
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['lifecycle', 'finalMeteringGraceMinutes'],
        message:
          `must be at most ${longestGraceMinutes} with metering.acceptanceWindowHours ${config.metering.acceptanceWindowHours}: ` +
          "a cancellation's final hour is sent up to this long after the hour ends, and Marketplace takes an hour's " +
          `records for ${acceptedForHours} hours at the most (a month's last hour until ${MONTH_END_CUTOFF_HOURS}:00 UTC on the 1st)`,
      });
    }
    // An invalid region has its own error: checking other fields against it would only add misleading ones. Without
    // one, the stack deploys to us-east-1, where Marketplace's notifications are (its template refuses any other).
    const stackRegion =
      config.region === undefined
        ? MARKETPLACE_HOME_REGION
        : REGION_NAME_PATTERN.test(config.region)
          ? config.region
          : undefined;
    // Likewise an ARN that is not one has its own error, and no region to compare.
    const regionOfValid = (arn: string | undefined) => {
      const region = arn === undefined ? undefined : regionOfArn(arn);
      return region !== undefined && REGION_NAME_PATTERN.test(region) ? region : undefined;
    };
    for (const { path, arn, must, why } of arnsInStackRegion(config)) {
      const region = regionOfValid(arn);
      if (stackRegion !== undefined && region !== undefined && region !== stackRegion) {
        ctx.addIssue({
          code: 'custom',
          path,
          message:
            config.region === undefined
              ? `must be ${must} in ${stackRegion}, where the stack deploys while marketplace.region is not set (or ` +
                `set marketplace.region to ${region}: the app then adds a stack in ${stackRegion} that forwards ` +
                `Marketplace's notifications): ${why}`
              : `must be ${must} in ${stackRegion} (marketplace.region): ${why}`,
        });
      }
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

/** The configured ARNs that must name a resource of the stack's own region, with what and why, for the messages. */
export function arnsInStackRegion(config: {
  readonly observability: { readonly alarmTopicArn?: string | undefined };
  readonly api: { readonly customDomain?: { readonly certificateArn: string } | undefined };
}) {
  return [
    {
      path: ['observability', 'alarmTopicArn'],
      arn: config.observability.alarmTopicArn,
      must: 'a topic',
      why: "CloudWatch notifies topics of the alarm's own region only",
    },
    {
      path: ['api', 'customDomain', 'certificateArn'],
      arn: config.api.customDomain?.certificateArn,
      must: 'a certificate',
      why: 'a regional API domain takes a certificate of its own region',
    },
  ];
}

export type Config = z.infer<typeof configSchema>;
export type ProductConfig = Config['products'][number];
export type DimensionConfig = ProductConfig['dimensions'][number];

/** A configuration that does not validate; the message names every offending field. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Fields that earlier versions took, by their path under `marketplace`, and what replaced each: a configuration that
 * still has one is told what to write instead, not just that the field is unknown.
 */
const retiredFields: ReadonlyMap<string, string> = new Map(
  ['rateLimit', 'burstLimit'].map((field) => [
    `api.throttling.${field}`,
    'stage-wide limits are replaced by one for each kind of route: set { rateLimit, burstLimit } under ' +
      'api.throttling.buyerPages, api.throttling.accessCheck and api.throttling.usage instead',
  ]),
);

function unknownFieldMessage(path: readonly PropertyKey[]): string {
  return retiredFields.get(path.map(String).join('.')) ?? 'unknown field (check its spelling)';
}

/** Digits where text is expected (a product code): `-c` reads them as a number unless quoted as JSON. */
function textReadAsNumberHint(issue: z.core.$ZodIssue): string {
  return issue.code === 'invalid_type' && issue.expected === 'string' && typeof issue.input === 'number'
    ? ` (write it as text: "12345" in cdk.json, '"12345"' with -c, which reads bare digits as a number)`
    : '';
}

/** A field left out is `required`, rather than zod's "expected string, received undefined". */
function messageOf(issue: z.core.$ZodIssue): string {
  return issue.code === 'invalid_type' && issue.input === undefined ? `required (${issue.expected})` : issue.message;
}

/** zod's own bound on an integer (the safe integers), said beside the field's bound: the field's says more. */
function isSafeIntegerBound(issue: z.core.$ZodIssue): boolean {
  return (
    (issue.code === 'too_big' && issue.origin === 'int' && issue.maximum === Number.MAX_SAFE_INTEGER) ||
    (issue.code === 'too_small' && issue.origin === 'int' && issue.minimum === Number.MIN_SAFE_INTEGER)
  );
}

const samePath = (one: z.core.$ZodIssue, other: z.core.$ZodIssue) => formatPath(one.path) === formatPath(other.path);

/** Validates a raw configuration object; throws {@link ConfigError} naming each bad field. */
export function parseConfig(raw: unknown): Config {
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (result.success) return result.data;
  const issues = result.error.issues.filter(
    (issue, _, all) => !(isSafeIntegerBound(issue) && all.some((other) => other !== issue && samePath(other, issue))),
  );
  const lines = issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => `  ${formatPath([...issue.path, key])}: ${unknownFieldMessage([...issue.path, key])}`)
      : [`  ${formatPath(issue.path)}: ${messageOf(issue)}${textReadAsNumberHint(issue)}`],
  );
  throw new ConfigError(`Invalid configuration (context "${CONFIG_CONTEXT_KEY}"):\n${lines.join('\n')}`);
}

/**
 * Builds the raw configuration from CDK context: the `marketplace` object (an object from `cdk.json`, or a JSON
 * string from `-c marketplace='{...}'`), then any dotted overrides such as `-c marketplace.tables.removalPolicy=destroy`
 * (values parsed as JSON when they parse, kept as strings otherwise).
 */
export function configFromContext(context: Record<string, unknown>): unknown {
  refuseMisplacedContext(context);
  const base = parseContextValue(CONFIG_CONTEXT_KEY, context[CONFIG_CONTEXT_KEY]) ?? {};
  const prefix = `${CONFIG_CONTEXT_KEY}.`;
  const overrides = Object.entries(context).filter(([key]) => key.startsWith(prefix));
  if (overrides.length === 0) return base;
  const merged: unknown = structuredClone(base);
  for (const [key, value] of overrides) {
    const path = key.slice(prefix.length).split('.');
    // Set on a plain object, these would reach every object's prototype, not a setting.
    const inherited = path.find((segment) => INHERITED_NAMES.has(segment));
    if (inherited !== undefined) {
      throw new ConfigError(`Invalid configuration: context "${key}": ${inherited} is not a setting`);
    }
    setPath(key, merged, path, parseContextValue(key, value));
  }
  return merged;
}

const INHERITED_NAMES: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * A setting given beside `marketplace` rather than under it (`-c region=...`), or under a misspelt name
 * (`-c marketplac.region=...`), would be ignored without a word, and the stack deployed as if it were not there. The
 * CDK's own context keys (`@aws-cdk/...`, `aws:cdk:...`) are neither.
 */
function refuseMisplacedContext(context: Record<string, unknown>): void {
  const settings = new Set(Object.keys(configSchema.in.shape));
  for (const key of Object.keys(context)) {
    const [first = ''] = key.split('.');
    if (first === CONFIG_CONTEXT_KEY) continue;
    if (settings.has(first) || isNearMiss(first.toLowerCase(), CONFIG_CONTEXT_KEY.toLowerCase())) {
      const meant = settings.has(first)
        ? `${CONFIG_CONTEXT_KEY}.${key}`
        : `${CONFIG_CONTEXT_KEY}${key.slice(first.length)}`;
      throw new ConfigError(
        `Invalid configuration: context "${key}" is not read (every setting goes under "${CONFIG_CONTEXT_KEY}"): ` +
          `did you mean -c ${meant}=...?`,
      );
    }
  }
}

/** Whether `word` is `target`, or it with at most two letters added, removed, changed or swapped. */
function isNearMiss(word: string, target: string): boolean {
  if (Math.abs(word.length - target.length) > 2) return false;
  let previous = Array.from({ length: target.length + 1 }, (_, index) => index);
  let beforePrevious = previous;
  for (let i = 1; i <= word.length; i++) {
    const current = [i];
    for (let j = 1; j <= target.length; j++) {
      const cost = word[i - 1] === target[j - 1] ? 0 : 1;
      let distance = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && word[i - 1] === target[j - 2] && word[i - 2] === target[j - 1]) {
        distance = Math.min(distance, beforePrevious[j - 2]! + 1);
      }
      current.push(distance);
    }
    beforePrevious = previous;
    previous = current;
  }
  return previous[target.length]! <= 2;
}

/**
 * A context value as JSON when it parses, as the string otherwise; but the whole `marketplace` value, and one written
 * as an object (`{...}`), are meant as JSON: one that does not parse is named as such, rather than refused later as "a
 * string". Free text that only starts with a brace (`{Beta} Pro`) stays text.
 */
function parseContextValue(key: string, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch (error) {
    if (key === CONFIG_CONTEXT_KEY || /^\s*\{[^]*\}\s*$/.test(value)) {
      throw new ConfigError(
        `Invalid configuration (context "${key}"): its value is not valid JSON (${(error as Error).message})`,
        { cause: error },
      );
    }
    return value;
  }
}

function setPath(key: string, target: unknown, path: string[], value: unknown): void {
  let node = target as Record<string, unknown>;
  path.forEach((segment, index) => {
    // A name on a list would be set beside its items, where nothing reads it; an index past its end, a list of holes.
    if (Array.isArray(node) && !(/^(0|[1-9]\d*)$/.test(segment) && Number(segment) <= node.length)) {
      const list = path.slice(0, index).join('.');
      throw new ConfigError(
        `Invalid configuration: context "${key}": ${list} is a list of ${node.length}, indexed by number from 0 to ` +
          `${node.length} (${node.length} adds one: ${[list, '0', ...path.slice(index + 1)].join('.')} sets the ` +
          `first), not "${segment}"`,
      );
    }
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
