/**
 * What `npm run preflight` checks before a first `cdk deploy`, each with read-only calls (or none): each answers
 * PASS, FAIL with the fix, or SKIP when it does not apply. An endpoint the check could not reach is a FAIL that names
 * it, as a network that keeps the seller from AWS would keep the deploy from it too; a call that could not be made for
 * want of credentials is a FAIL that says how to give them.
 *
 * Each service is AWS's own unless its variable names another endpoint (for tests: the simulator for Marketplace):
 * `STS_ENDPOINT`, `ENTITLEMENT_ENDPOINT`, `MARKETPLACE_ENDPOINT` (metering), `SNS_ENDPOINT`, `SSM_ENDPOINT`,
 * `LAMBDA_ENDPOINT`.
 */
import { GetAccountSettingsCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { BatchMeterUsageCommand } from '@aws-sdk/client-marketplace-metering';
import { GetEntitlementsCommand } from '@aws-sdk/client-marketplace-entitlement-service';
import { GetTopicAttributesCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { getEndpointFromInstructions, type EndpointParameterInstructionsSupplier } from '@smithy/core/endpoints';
import { MARKETPLACE_HOME_REGION, REGION_NAME_PATTERN } from '../../contracts/index.ts';
import { entitlementClient, meteringClient } from '../../lambdas/core/aws-clients.ts';
import { arnsInStackRegion, regionOfArn, type Config, type ProductConfig } from '../../lib/config.ts';
import { EXAMPLE_PRODUCT_CODE_SUFFIX, exampleSettings, isExampleProductCode } from '../../lib/example-products.ts';
import { receivesMarketplaceEvents } from '../../lib/marketplace-events.ts';
import { METERING_RESERVED_CONCURRENCY } from '../../lib/metering.ts';
import {
  legacyTopicsOf,
  mainStackSubscribesToLegacyTopics,
  receivesLegacyNotifications,
  type LegacyTopic,
} from '../../lib/marketplace-topics.ts';
import { messageOf } from '../../lambdas/core/errors.ts';
import { isMissingCredentials, profileInUse } from './command-line.ts';

export interface CheckResult {
  readonly outcome: 'PASS' | 'FAIL' | 'SKIP';
  readonly check: string;
  readonly detail: string;
  /** What to do about a FAIL. */
  readonly fix?: string;
}

/** The `/cdk-bootstrap/<qualifier>/version` parameter of the default qualifier, which the CDK reads. */
const BOOTSTRAP_VERSION_PARAMETER = '/cdk-bootstrap/hnb659fds/version';
/** The bootstrap version the synthesized templates' `CheckBootstrapVersion` rule asks for. */
const MIN_BOOTSTRAP_VERSION = 6;
/** An account id no buyer has: the filter matches nothing, so the answer says only whether the product is readable. */
const NO_BUYER_ACCOUNT = '000000000000';
/** Lambda keeps this much of an account's concurrency unreserved, or all of a quota below it. */
const MIN_UNRESERVED_CONCURRENCY = 100;
/** Lambda's quota "Concurrent executions", 1,000 by default (new accounts may start far lower). */
const CONCURRENCY_QUOTA_CODE = 'L-B99A9384';
/** Once, then once more: enough for a blip, short when nothing answers. */
const MAX_ATTEMPTS = 2;

const PERMISSIONS_FIX =
  'Run preflight (and cdk deploy) with credentials of the AWS account registered as the Marketplace seller of the ' +
  'product; check their IAM policy allows it.';
const CREDENTIALS_FIX =
  "Give preflight the seller account's credentials, those you will deploy with: AWS_PROFILE=<profile> for a " +
  'profile made with aws configure (or aws configure sso, then aws sso login --profile <profile>), or the ' +
  'environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones).';
const REGION_FIX = 'Set AWS_REGION (or the profile region), or marketplace.region in cdk.json.';
const PRODUCT_FIX =
  "Use the product's code from the AWS Marketplace Management Portal (Products > SaaS > your product), in the " +
  'seller account that owns the product.';

/** An endpoint variable: unset or empty means AWS's own endpoint. */
function endpointFromEnvironment(variable: string): string | undefined {
  return process.env[variable] || undefined;
}

const endpoint = (variable: string) => {
  const url = endpointFromEnvironment(variable);
  return url === undefined ? {} : { endpoint: url };
};

export function exampleCodeChecks(config: Config): CheckResult[] {
  return config.products.map((product) =>
    isExampleProductCode(product.code)
      ? {
          outcome: 'FAIL',
          check: 'product code',
          detail: `${product.code} is an example code (it ends in "${EXAMPLE_PRODUCT_CODE_SUFFIX}"), not a product of yours`,
          fix: `Replace it in cdk.json (marketplace.products[].code). ${PRODUCT_FIX}`,
        }
      : { outcome: 'PASS', check: 'product code', detail: `${product.code} is not an example code` },
  );
}

/** The links and addresses buyers and operators are given: none may be an example's, nor on this machine. */
export function exampleLinkChecks(config: Config): CheckResult[] {
  const examples = exampleSettings(config).filter(({ path }) => !path.startsWith('products['));
  if (examples.length === 0) {
    return [{ outcome: 'PASS', check: 'links and addresses', detail: 'none is an example or on this machine' }];
  }
  return examples.map(({ path, value, why }) => ({
    outcome: 'FAIL',
    check: 'links and addresses',
    detail: `marketplace.${path} "${value}" is ${why}`,
    fix: `Set marketplace.${path} to your own, in cdk.json (or -c here and for cdk deploy alike).`,
  }));
}

/**
 * Whether anyone hears the alarms: the stack deploys its alarms and their topic either way, but with no recipient they
 * notify a topic no one reads (`cdk synth` warns the same).
 */
export function alarmRecipientsCheck(config: Config): CheckResult {
  const check = 'alarm recipients';
  const { alarmEmail, alarmTopicArn } = config.observability;
  if (alarmEmail === undefined && alarmTopicArn === undefined) {
    return {
      outcome: 'FAIL',
      check,
      detail:
        'neither marketplace.observability.alarmEmail nor marketplace.observability.alarmTopicArn is set: the ' +
        "stack's alarms would notify a topic no one reads",
      fix:
        'Set marketplace.observability.alarmEmail to an address that SNS emails the alarms to (confirm its ' +
        "subscription after the deploy), or alarmTopicArn to an SNS topic of yours in the stack's region (a pager, " +
        'chat); in cdk.json, or -c marketplace.observability.alarmEmail=<address> here and for cdk deploy alike.',
    };
  }
  const forwarderRegion = config.region !== undefined && config.region !== MARKETPLACE_HOME_REGION;
  if (alarmEmail === undefined && forwarderRegion) {
    return {
      outcome: 'FAIL',
      check,
      detail:
        `the alarms of the ${MARKETPLACE_HOME_REGION} forwarder stack would reach no one: CloudWatch notifies ` +
        `topics of the alarm's own region, and marketplace.observability.alarmTopicArn is in ${config.region}`,
      fix:
        "Set marketplace.observability.alarmEmail as well: an address SNS emails both stacks' alarms to. (Subscribing " +
        `to the forwarder stack's AlarmTopicArn output in ${MARKETPLACE_HOME_REGION} after the deploy works too, ` +
        'but this check cannot see it.)',
    };
  }
  const recipients = [alarmEmail, alarmTopicArn].filter((recipient) => recipient !== undefined);
  return { outcome: 'PASS', check, detail: `the alarms notify ${recipients.join(' and ')}` };
}

/** Who the credentials are, and the region the stack goes to; answers the account and region it could tell. */
export async function identityCheck(
  config: Config,
): Promise<{ result: CheckResult; stackRegion?: string; account?: string }> {
  // The configured region, when there is one, is the one STS is called in: the environment may name none.
  const client = new STSClient({
    maxAttempts: MAX_ATTEMPTS,
    ...(config.region === undefined ? {} : { region: config.region }),
    ...endpoint('STS_ENDPOINT'),
  });
  try {
    const region = config.region ?? (await client.config.region().catch(() => undefined));
    if (region === undefined) {
      // STS cannot be called without a region, but the credentials can still be looked for: say all that is missing.
      const noRegion = 'no region: neither marketplace.region nor the AWS environment (AWS_REGION, profile) names one';
      const credentialsProblem = await client.config.credentials().then(
        () => undefined,
        (error: unknown) => (isMissingCredentials(error) ? messageOf(error) : undefined),
      );
      return {
        result:
          credentialsProblem === undefined
            ? { outcome: 'FAIL', check: 'account and region', detail: noRegion, fix: REGION_FIX }
            : {
                outcome: 'FAIL',
                check: 'account and region',
                detail: `no AWS credentials (${credentialsProblem}), and ${noRegion}`,
                fix: `${profileInUse()}${CREDENTIALS_FIX} ${REGION_FIX}`,
              },
      };
    }
    const where =
      config.region === undefined ? `region ${region} (the credentials')` : `region ${region} (marketplace.region)`;
    try {
      const identity = await client.send(new GetCallerIdentityCommand({}));
      return {
        result: {
          outcome: 'PASS',
          check: 'account and region',
          detail: `account ${identity.Account} as ${identity.Arn}; the stack deploys to ${where}`,
        },
        stackRegion: region,
        ...(identity.Account === undefined ? {} : { account: identity.Account }),
      };
    } catch (error) {
      return {
        result: failure(
          'account and region',
          error,
          await target(client, GetCallerIdentityCommand, {}, 'STS', 'STS_ENDPOINT'),
          {
            default: 'Sign in with the seller account (aws sso login, AWS_PROFILE, or aws configure).',
          },
        ),
        stackRegion: region,
      };
    }
  } finally {
    client.destroy();
  }
}

export async function entitlementChecks(config: Config): Promise<CheckResult[]> {
  const client = entitlementClient(endpointFromEnvironment('ENTITLEMENT_ENDPOINT'), undefined, MAX_ATTEMPTS);
  try {
    const results: CheckResult[] = [];
    for (const product of config.products) {
      const check = `entitlements ${product.code}`;
      const input = {
        ProductCode: product.code,
        Filter: { CUSTOMER_AWS_ACCOUNT_ID: [NO_BUYER_ACCOUNT] },
        MaxResults: 1,
      };
      try {
        await client.send(new GetEntitlementsCommand(input));
        results.push({ outcome: 'PASS', check, detail: 'GetEntitlements answers for the product' });
      } catch (error) {
        const where = await target(
          client,
          GetEntitlementsCommand,
          input,
          'the Entitlement Service (us-east-1)',
          'ENTITLEMENT_ENDPOINT',
        );
        results.push(
          failure(check, error, where, {
            InvalidParameterException: PRODUCT_FIX,
            AccessDeniedException: `${PERMISSIONS_FIX} (aws-marketplace:GetEntitlements)`,
            default: PERMISSIONS_FIX,
          }),
        );
      }
    }
    return results;
  } finally {
    client.destroy();
  }
}

/** A `BatchMeterUsage` of no records: it bills nothing, and still says whether the product and region are usable. */
export async function meteringChecks(config: Config): Promise<CheckResult[]> {
  const client = meteringClient(
    config.marketplaceRegion,
    endpointFromEnvironment('MARKETPLACE_ENDPOINT'),
    MAX_ATTEMPTS,
  );
  try {
    const results: CheckResult[] = [];
    for (const product of config.products) {
      const check = `metering ${product.code}`;
      if (!isMetered(product)) {
        results.push({ outcome: 'SKIP', check, detail: 'the product has no metered dimension' });
        continue;
      }
      const input = { ProductCode: product.code, UsageRecords: [] };
      try {
        await client.send(new BatchMeterUsageCommand(input));
        results.push({
          outcome: 'PASS',
          check,
          detail: `BatchMeterUsage (of no records) answers in ${config.marketplaceRegion}`,
        });
      } catch (error) {
        const where = await target(
          client,
          BatchMeterUsageCommand,
          input,
          `the Metering Service (${config.marketplaceRegion})`,
          'MARKETPLACE_ENDPOINT',
        );
        results.push(
          failure(check, error, where, {
            InvalidProductCodeException: PRODUCT_FIX,
            DisabledApiException:
              `The metering API is not enabled in ${config.marketplaceRegion}: set marketplace.marketplaceRegion ` +
              'to us-east-1, or ask AWS Marketplace Seller Operations to enable the region.',
            AccessDeniedException: `${PERMISSIONS_FIX} (aws-marketplace:BatchMeterUsage)`,
            default: PERMISSIONS_FIX,
          }),
        );
      }
    }
    return results;
  } finally {
    client.destroy();
  }
}

export async function legacyTopicChecks(config: Config): Promise<CheckResult[]> {
  const topics = receivesLegacyNotifications(config) ? legacyTopicsOf(config) : [];
  if (topics.length === 0) {
    return [
      { outcome: 'SKIP', check: 'SNS topics', detail: 'no legacy product: its notifications come by EventBridge' },
    ];
  }
  const results: CheckResult[] = [];
  for (const topic of topics) results.push(await topicCheck(topic));
  return results;
}

async function topicCheck(topic: LegacyTopic): Promise<CheckResult> {
  const check = `SNS topic ${topic.productCode} ${topic.kind}`;
  const region = regionOfArn(topic.arn);
  const client = new SNSClient({
    maxAttempts: MAX_ATTEMPTS,
    ...(region ? { region } : {}),
    ...endpoint('SNS_ENDPOINT'),
  });
  const input = { TopicArn: topic.arn };
  try {
    await client.send(new GetTopicAttributesCommand(input));
    return { outcome: 'PASS', check, detail: `${topic.arn} exists` };
  } catch (error) {
    const where = await target(client, GetTopicAttributesCommand, input, `SNS (${region})`, 'SNS_ENDPOINT');
    return failure(check, error, where, {
      NotFoundException:
        `${topic.arn} does not exist, so subscribing to it would roll the deploy back. Marketplace makes these ` +
        'topics for a published legacy product: check the code, and whether the product is a legacy one at all ' +
        '(identityModel "license" takes EventBridge instead), or set snsTopicArns to the ARNs Marketplace gave you.',
      AuthorizationErrorException: `The topic exists but this account may not use it. ${PERMISSIONS_FIX}`,
      default: PERMISSIONS_FIX,
    });
  } finally {
    client.destroy();
  }
}

/**
 * Whether the stack can go to the region it would deploy to: with `marketplace.region` unset, it has no region of its
 * own, and its template refuses any but us-east-1, where Marketplace sends its notifications (a rule that fails the
 * deploy only once CloudFormation runs it).
 */
export function stackRegionCheck(config: Config, stackRegion: string): CheckResult {
  const check = 'stack region';
  if (config.region !== undefined) {
    const forwarded =
      config.region === MARKETPLACE_HOME_REGION
        ? ''
        : `; a stack in ${MARKETPLACE_HOME_REGION} forwards Marketplace's notifications`;
    return { outcome: 'PASS', check, detail: `${config.region} (marketplace.region)${forwarded}` };
  }
  if (!REGION_NAME_PATTERN.test(stackRegion)) {
    return {
      outcome: 'FAIL',
      check,
      detail: `the credentials' region is ${JSON.stringify(stackRegion)}, which is not an AWS region name`,
      fix: "Set AWS_REGION (or the profile's region) to the region to deploy to, such as us-east-1.",
    };
  }
  const hearsFromMarketplace = receivesMarketplaceEvents(config) || legacyTopicsOf(config).length > 0;
  if (stackRegion === MARKETPLACE_HOME_REGION || !hearsFromMarketplace) {
    const elsewhere = arnsInStackRegion(config).flatMap(({ path, arn, must, why }) => {
      const region = arn === undefined ? undefined : regionOfArn(arn);
      return arn === undefined || region === stackRegion ? [] : [{ field: path.join('.'), region, must, why }];
    });
    if (elsewhere.length === 0) return { outcome: 'PASS', check, detail: `${stackRegion} (the credentials')` };
    const otherRegion = elsewhere[0]!.region;
    // Elsewhere than us-east-1 the stack needs marketplace.region: AWS_REGION alone meets the template's refusal below.
    const moveTo =
      `set marketplace.region to ${otherRegion} (in cdk.json, or -c marketplace.region=${otherRegion} for ` +
      `preflight, cdk bootstrap and cdk deploy alike; the app then adds a stack in ${MARKETPLACE_HOME_REGION} ` +
      'that forwards the notifications, bootstrapped too).';
    return {
      outcome: 'FAIL',
      check,
      detail:
        `the stack would deploy to ${stackRegion} (the credentials' region, as marketplace.region is unset), and ` +
        elsewhere
          .map(({ field, region, must, why }) => `marketplace.${field} is ${must} in ${region} (${why})`)
          .join('; '),
      fix:
        `Name ${elsewhere.map(({ must }) => must).join(' and ')} in ${stackRegion}` +
        (new Set(elsewhere.map(({ region }) => region)).size === 1 ? `, or ${moveTo}` : '.'),
    };
  }
  return {
    outcome: 'FAIL',
    check,
    detail:
      `the stack would deploy to ${stackRegion} (the credentials' region, as marketplace.region is unset), and its ` +
      `template refuses any region but ${MARKETPLACE_HOME_REGION}, where Marketplace sends its notifications`,
    fix:
      `Set marketplace.region to ${stackRegion} (in cdk.json, or -c marketplace.region=${stackRegion} for preflight, ` +
      `cdk bootstrap and cdk deploy alike): the app then adds a stack in ${MARKETPLACE_HOME_REGION} that forwards ` +
      `the notifications. Or deploy to ${MARKETPLACE_HOME_REGION} (AWS_REGION=${MARKETPLACE_HOME_REGION}).`,
  };
}

/** The regions `cdk deploy` deploys to: the stack's, and us-east-1 for the forwarder of Marketplace's notifications. */
export function regionsToBootstrap(config: Config, stackRegion: string): string[] {
  const forwarded =
    config.region !== undefined &&
    config.region !== MARKETPLACE_HOME_REGION &&
    (receivesMarketplaceEvents(config) ||
      (receivesLegacyNotifications(config) && !mainStackSubscribesToLegacyTopics(config)));
  return forwarded ? [stackRegion, MARKETPLACE_HOME_REGION] : [stackRegion];
}

export async function bootstrapCheck(region: string, account: string | undefined): Promise<CheckResult> {
  const check = `CDK bootstrap ${region}`;
  const bootstrap = `npx cdk bootstrap aws://${account ?? '<account id>'}/${region}, with the same -c options as the deploy`;
  const client = new SSMClient({ region, maxAttempts: MAX_ATTEMPTS, ...endpoint('SSM_ENDPOINT') });
  const input = { Name: BOOTSTRAP_VERSION_PARAMETER };
  try {
    const { Parameter } = await client.send(new GetParameterCommand(input));
    const version = Number(Parameter?.Value);
    if (version >= MIN_BOOTSTRAP_VERSION) {
      return { outcome: 'PASS', check, detail: `bootstrap version ${version}` };
    }
    return {
      outcome: 'FAIL',
      check,
      detail: `bootstrap version ${Parameter?.Value}, older than the ${MIN_BOOTSTRAP_VERSION} the templates need`,
      fix: `Bootstrap again with this project's CDK: ${bootstrap}.`,
    };
  } catch (error) {
    const where = await target(client, GetParameterCommand, input, `SSM (${region})`, 'SSM_ENDPOINT');
    return failure(check, error, where, {
      ParameterNotFound: `The region is not bootstrapped for the CDK: ${bootstrap}.`,
      default: PERMISSIONS_FIX,
    });
  } finally {
    client.destroy();
  }
}

/**
 * Whether the account can give the stack's functions their reserved concurrency: Lambda refuses a reservation that
 * leaves less than its minimum unreserved, and the deploy would roll back at the metering function. New accounts often
 * have a quota of 10 or 50 concurrent executions, all of which must stay unreserved.
 */
export async function concurrencyCheck(region: string): Promise<CheckResult> {
  const check = `Lambda concurrency ${region}`;
  const client = new LambdaClient({ region, maxAttempts: MAX_ATTEMPTS, ...endpoint('LAMBDA_ENDPOINT') });
  try {
    const { AccountLimit } = await client.send(new GetAccountSettingsCommand({}));
    const quota = AccountLimit?.ConcurrentExecutions;
    const unreserved = AccountLimit?.UnreservedConcurrentExecutions;
    if (quota === undefined || unreserved === undefined) {
      return {
        outcome: 'FAIL',
        check,
        detail: "Lambda's GetAccountSettings answered without the account's concurrency limits",
        fix: 'Look them up in Service Quotas > AWS Lambda > Concurrent executions, and run preflight again.',
      };
    }
    return concurrencyVerdict(check, region, quota, unreserved);
  } catch (error) {
    const where = await target(client, GetAccountSettingsCommand, {}, `Lambda (${region})`, 'LAMBDA_ENDPOINT');
    return failure(check, error, where, { default: `${PERMISSIONS_FIX} (lambda:GetAccountSettings)` });
  } finally {
    client.destroy();
  }
}

/** The verdict on an account's concurrency quota and what of it is unreserved. */
function concurrencyVerdict(check: string, region: string, quota: number, unreserved: number): CheckResult {
  const reserving = Object.values(METERING_RESERVED_CONCURRENCY).reduce((sum, count) => sum + count, 0);
  const minimum = Math.min(MIN_UNRESERVED_CONCURRENCY, quota);
  const figures = `quota ${quota} concurrent executions, ${unreserved} unreserved`;
  if (unreserved - reserving >= minimum) {
    return { outcome: 'PASS', check, detail: `${figures}: room for the ${reserving} the metering functions reserve` };
  }
  const needed = quota - unreserved + reserving + MIN_UNRESERVED_CONCURRENCY;
  return {
    outcome: 'FAIL',
    check,
    detail:
      `${figures}: the metering functions reserve ${reserving}, and Lambda keeps ${minimum} unreserved, so the ` +
      'deploy would roll back (Specified ReservedConcurrentExecutions ... below its minimum value)',
    fix:
      `Ask for a Lambda quota of at least ${needed} concurrent executions in ${region} (1,000 is the usual ` +
      `default): Service Quotas > AWS Lambda > Concurrent executions, or aws service-quotas ` +
      `request-service-quota-increase --service-code lambda --quota-code ${CONCURRENCY_QUOTA_CODE} ` +
      `--desired-value 1000 --region ${region}. Then run preflight again. (If this stack is deployed already, its ` +
      `own ${reserving} are reserved and counted here: a redeploy needs no more.)`,
  };
}

function isMetered(product: ProductConfig): boolean {
  return product.dimensions.some((dimension) => dimension.kind === 'metered');
}

/** Where a check's call goes: the service, the variable that names another endpoint, and the address tried. */
interface Target {
  readonly service: string;
  readonly variable: string;
  readonly address: string;
}

/**
 * The target of a call of the command, its address as the client resolves it: the endpoint variable's, or AWS's own
 * for the client's region (`https://entitlement.marketplace.us-east-1.amazonaws.com`).
 */
async function target(
  client: { readonly config: object },
  command: EndpointParameterInstructionsSupplier,
  input: object,
  service: string,
  variable: string,
): Promise<Target> {
  let address: string;
  try {
    const { url } = await getEndpointFromInstructions(input, command, client.config);
    address = `${url.origin}${url.pathname === '/' ? '' : url.pathname}`;
  } catch (error) {
    address = endpointFromEnvironment(variable) ?? `AWS's endpoint (not resolved: ${messageOf(error)})`;
  }
  return { service, variable, address };
}

/**
 * A FAIL for an error: an answer of the service, with the fix for its error name (or the default one); no credentials
 * to sign the call with, with how to give them; or no answer at all, naming the address the check tried.
 */
function failure(
  check: string,
  error: unknown,
  { service, variable, address }: Target,
  fixes: Readonly<Record<string, string>> & { readonly default: string },
): CheckResult {
  if (isMissingCredentials(error)) {
    return {
      outcome: 'FAIL',
      check,
      detail: `no AWS credentials to call ${service} at ${address}: ${messageOf(error)}`,
      fix: `${profileInUse()}${CREDENTIALS_FIX}`,
    };
  }
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (status === undefined) {
    return {
      outcome: 'FAIL',
      check,
      detail: `cannot reach ${service} at ${address}: ${messageOf(error)}`,
      fix: `Check the network (proxy, VPN), or ${variable} if it is set.`,
    };
  }
  const name = error instanceof Error ? error.name : 'Error';
  // Throttling and server errors say nothing of the setup: asking again later does.
  const passing = status === 429 || status >= 500 || /Throttl/.test(name);
  const fix = passing ? `${service} is busy or failing for now: run preflight again in a minute.` : undefined;
  return { outcome: 'FAIL', check, detail: `${name}: ${messageOf(error)}`, fix: fix ?? fixes[name] ?? fixes.default };
}
