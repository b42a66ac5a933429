/**
 * The product codes `cdk.json` ships with are examples: AWS Marketplace knows no such product, so a stack deployed with
 * them would never see a buyer nor bill a unit, and the subscriptions to a legacy example's SNS topics (which do not
 * exist) would roll the deployment back. The app refuses them unless told they are meant (the tests, or a look at the
 * template). The local stack and the simulator sell them freely: only the deployable app checks.
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

/** Throws a {@link ConfigError} naming every example product code, unless the context allows them. */
export function refuseExampleProducts(config: Config, context: Readonly<Record<string, unknown>>): void {
  // `-c` passes the string "true"; a context object (a test's) passes the boolean.
  const allowed = context[ALLOW_EXAMPLE_PRODUCTS];
  if (allowed === true || allowed === 'true') return;
  // Anything else but false would be read as false unsaid: `-c allowExampleProducts=yes` is told, not ignored.
  if (allowed !== undefined && allowed !== false && allowed !== 'false') {
    throw new ConfigError(`${ALLOW_EXAMPLE_PRODUCTS}: must be true or false, not ${JSON.stringify(allowed)}`);
  }
  const examples = config.products.flatMap((product, index) =>
    isExampleProductCode(product.code)
      ? [
          `  ${CONFIG_CONTEXT_KEY}.products[${index}].code: "${product.code}" is an example, not a product of yours ` +
            'on AWS Marketplace',
        ]
      : [],
  );
  if (examples.length === 0) return;
  throw new ConfigError(
    [
      'Refusing to build a deployable stack for example products:',
      ...examples,
      'Put the codes of your own products in cdk.json (AWS Marketplace Management Portal, Products > SaaS, the ' +
        'product\'s "Product code"). To synthesize the examples anyway (to read the template; a deployment would ' +
        `serve no real product), add -c ${ALLOW_EXAMPLE_PRODUCTS}=true.`,
    ].join('\n'),
  );
}
