/**
 * `cdk.json` ships an example configuration: product codes AWS Marketplace knows nothing of, and links and addresses on
 * the domains reserved for examples (example.com, RFC 2606). A stack deployed with an example product code would never
 * see a buyer nor bill a unit (and the subscriptions to a legacy example's SNS topics, which do not exist, would roll the
 * deployment back); one deployed with an example link sends real buyers to an app that does not exist, shows them a
 * support address no one reads, or emails alarms to no one. The app refuses them unless told they are meant (the tests,
 * or a look at the template). The local stack and the simulator take them freely: only the deployable app checks.
 */
import { CONFIG_CONTEXT_KEY, ConfigError, type Config } from './config.ts';

/** What marks a product code as an example: one place, so the shipped examples and the check cannot drift apart. */
export const EXAMPLE_PRODUCT_CODE_SUFFIX = '-example';

/** The context flag that lets the examples through: `-c allowExampleProducts=true`. */
export const ALLOW_EXAMPLE_PRODUCTS = 'allowExampleProducts';

/** Context for a caller that synthesizes the shipped examples on purpose (tests, benchmarks). */
export const exampleProductsAllowed = { [ALLOW_EXAMPLE_PRODUCTS]: true } as const;

export function isExampleProductCode(code: string): boolean {
  return code.toLowerCase().endsWith(EXAMPLE_PRODUCT_CODE_SUFFIX);
}

/** The second-level domains RFC 2606 reserves for examples, and its `.example` top-level domain. */
const EXAMPLE_DOMAIN = /(^|\.)(example\.(com|net|org)|example)$/;
/** Hosts only this machine reaches: fine for an app beside `npm start`, never a deployed stack's buyers. */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** A setting of the example configuration: where it is (`marketplace.<path>`) and why it is one. */
export interface ExampleSetting {
  readonly path: string;
  readonly value: string;
  readonly why: string;
}

/** Every setting that is still an example: product codes, and links and addresses no buyer or operator can reach. */
export function exampleSettings(config: Config): ExampleSetting[] {
  const codes = config.products.flatMap((product, index) =>
    isExampleProductCode(product.code)
      ? [
          {
            path: `products[${index}].code`,
            value: product.code,
            why: 'an example, not a product of yours on AWS Marketplace',
          },
        ]
      : [],
  );
  const { registration, notifications, observability } = config;
  const reachable: [string, string | undefined, 'url' | 'email'][] = [
    ['registration.appUrl', registration.appUrl, 'url'],
    ['registration.supportEmail', registration.supportEmail, 'email'],
    ['registration.supportUrl', registration.supportUrl, 'url'],
    ['registration.logoUrl', registration.logoUrl, 'url'],
    ['registration.freeTrialLandingUrl', registration.freeTrialLandingUrl, 'url'],
    ['notifications.adminEmail', notifications.adminEmail, 'email'],
    ['notifications.webhookUrl', notifications.webhookUrl, 'url'],
    ['observability.alarmEmail', observability.alarmEmail, 'email'],
  ];
  const unreachable = reachable.flatMap(([path, value, kind]) => {
    const why = value === undefined ? undefined : unreachableBecause(value, kind);
    return why === undefined || value === undefined ? [] : [{ path, value, why }];
  });
  return [...codes, ...unreachable];
}

function unreachableBecause(value: string, kind: 'url' | 'email'): string | undefined {
  const host = (kind === 'email' ? value.slice(value.lastIndexOf('@') + 1) : (URL.parse(value)?.hostname ?? ''))
    .toLowerCase()
    .replace(/\.$/, '');
  if (EXAMPLE_DOMAIN.test(host)) return `on ${host}, a domain reserved for examples`;
  if (LOOPBACK_HOSTS.has(host)) return "on this machine, which a deployed stack's buyers cannot reach";
  return undefined;
}

/** Throws a {@link ConfigError} naming every example setting, unless the context allows them. */
export function refuseExampleProducts(config: Config, context: Readonly<Record<string, unknown>>): void {
  // `-c` passes the string "true"; a context object (a test's) passes the boolean.
  const allowed = context[ALLOW_EXAMPLE_PRODUCTS];
  if (allowed === true || allowed === 'true') return;
  // Anything else but false would be read as false unsaid: `-c allowExampleProducts=yes` is told, not ignored.
  if (allowed !== undefined && allowed !== false && allowed !== 'false') {
    throw new ConfigError(`${ALLOW_EXAMPLE_PRODUCTS}: must be true or false, not ${JSON.stringify(allowed)}`);
  }
  const examples = exampleSettings(config);
  if (examples.length === 0) return;
  throw new ConfigError(
    [
      'Refusing to build a deployable stack with the example configuration:',
      ...examples.map(({ path, value, why }) => `  ${CONFIG_CONTEXT_KEY}.${path}: "${value}" is ${why}`),
      'Put your own settings in cdk.json: the codes of your products (AWS Marketplace Management Portal, Products > ' +
        'SaaS, the product\'s "Product code"), your app\'s sign-in URL and your support contact. To synthesize the ' +
        `examples anyway (to read the template; a deployment would serve no real product), add -c ${ALLOW_EXAMPLE_PRODUCTS}=true.`,
    ].join('\n'),
  );
}
