/**
 * Lambda refuses a function whose environment variables (names and values together) pass 4 KB, and only at deploy
 * time. The products and their metered dimensions travel in variables, so a configuration with many of them would
 * synthesize and then roll the deploy back: it is refused here, naming the function, what fills it and how to shrink
 * it.
 */
import { Tokenization, Token } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { ConfigError } from './config.ts';
import { ProjectFunction } from './functions.ts';

/** Lambda's limit on a function's environment: 4 KB. */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;
/**
 * What a value known only at deploy time (a table name, a queue URL, an ARN) is counted as: more than any of those
 * CloudFormation generates for this stack takes.
 */
const DEPLOY_TIME_VALUE_BYTES = 200;

/** The bytes a function's environment takes, each value known only at deploy time counted at its most. */
export function environmentBytes(environment: Readonly<Record<string, string>>): Map<string, number> {
  return new Map(
    Object.entries(environment).map(([name, value]) => [name, Buffer.byteLength(name) + valueBytes(value)]),
  );
}

function valueBytes(value: string): number {
  if (!Token.isUnresolved(value)) return Buffer.byteLength(value);
  const atMost = Tokenization.reverseString(value)
    .mapTokens({ mapToken: () => 'x'.repeat(DEPLOY_TIME_VALUE_BYTES) })
    .join({ join: (left: unknown, right: unknown) => `${String(left)}${String(right)}` }) as unknown;
  return Buffer.byteLength(String(atMost));
}

/**
 * @throws ConfigError when a function's environment would not fit, naming it, its size and its largest variable
 */
export function refuseOversizedEnvironments(scope: IConstruct): void {
  for (const node of scope.node.findAll()) {
    if (!(node instanceof ProjectFunction)) continue;
    const sizes = environmentBytes(node.environment);
    const total = [...sizes.values()].reduce((sum, size) => sum + size, 0);
    if (total <= LAMBDA_ENVIRONMENT_LIMIT_BYTES) continue;
    const [largest, largestBytes] = [...sizes].sort(([, a], [, b]) => b - a)[0]!;
    throw new ConfigError(
      `The ${node.serviceName} function's environment would take about ${total.toLocaleString('en-US')} bytes, and ` +
        `Lambda takes at most ${LAMBDA_ENVIRONMENT_LIMIT_BYTES.toLocaleString('en-US')} (the deploy would roll ` +
        `back); ${largest} alone is ${largestBytes.toLocaleString('en-US')}. ${HOW_TO_SHRINK[largest] ?? SHRINK_ANY}`,
    );
  }
}

const SHRINK_PRODUCTS =
  'Every product travels there (its code, name and identity model): sell fewer products in this deployment, or give ' +
  'them shorter names (marketplace.products[].name).';

const SHRINK_ANY =
  'The products, their metered dimensions and the registration settings travel there: sell fewer products or ' +
  'metered dimensions in this deployment, or give them shorter names (marketplace.products).';

/** What fills each variable that grows with the configuration, and how to make it smaller. */
const HOW_TO_SHRINK: Readonly<Record<string, string>> = {
  PRODUCTS: SHRINK_PRODUCTS,
  METERED_DIMENSIONS:
    'The metered dimensions of every product travel there: sell fewer metered dimensions in this deployment, or ' +
    'give them shorter names (marketplace.products[].dimensions).',
  REGISTRATION:
    'The registration page settings travel there: shorten its texts and addresses (marketplace.registration).',
};
