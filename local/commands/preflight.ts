/**
 * `npm run preflight`: before a first `cdk deploy`, with the seller's AWS credentials, checks what can be checked
 * without changing anything (`preflight-checks.ts`): the configuration `cdk deploy` would read, that its product codes
 * are not the shipped examples, that someone hears the alarms, the account and region (and that the stack may deploy
 * there), that the Marketplace APIs answer for each product code, that each legacy product's SNS topics exist, that the
 * CDK is bootstrapped in each region the app deploys to, and that the account's Lambda quota leaves room for the
 * concurrency the metering functions reserve. Each check prints PASS, FAIL with the fix, or SKIP when it does not
 * apply.
 *
 * ```sh
 * AWS_PROFILE=seller npm run preflight
 * AWS_PROFILE=seller npm run preflight -- -c marketplace.region=eu-west-1     # the same -c as the deploy
 * ```
 *
 * The configuration is `cdk.json`'s context with each `-c key=value` over it, read as `cdk synth` reads it.
 *
 * Exit status: 0 when no check failed; 1 when one did; 2 for bad arguments.
 */
import '../sdk-environment.ts';
import { ConfigError, configFromContext, parseConfig, type Config } from '../../lib/config.ts';
import { cdkJsonContext } from '../config.ts';
import { ArgumentError, parseCommandLine, runCommand } from './command-line.ts';
import {
  alarmRecipientsCheck,
  bootstrapCheck,
  concurrencyCheck,
  entitlementChecks,
  exampleCodeChecks,
  exampleLinkChecks,
  identityCheck,
  legacyTopicChecks,
  meteringChecks,
  regionsToBootstrap,
  stackRegionCheck,
  type CheckResult,
} from './preflight-checks.ts';

const USAGE = 'npm run preflight -- [-c key=value]...';

async function main(args: string[]): Promise<number> {
  const { values } = parseCommandLine(args, { context: { type: 'string', short: 'c', multiple: true } });
  const context = { ...cdkJsonContext(), ...contextArguments(values.context ?? []) };
  console.log('Preflight of a first cdk deploy (read-only)\n');
  let config: Config;
  try {
    config = parseConfig(configFromContext(context));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    print({
      outcome: 'FAIL',
      check: 'configuration',
      detail: error.message,
      fix: 'Correct cdk.json or the -c options.',
    });
    return 1;
  }
  const results: CheckResult[] = [];
  const report = (result: CheckResult) => {
    results.push(result);
    print(result);
  };
  report({
    outcome: 'PASS',
    check: 'configuration',
    detail: `${config.products.length} product${config.products.length === 1 ? '' : 's'}; Marketplace APIs in ${config.marketplaceRegion}`,
  });
  exampleCodeChecks(config).forEach(report);
  exampleLinkChecks(config).forEach(report);
  report(alarmRecipientsCheck(config));
  const identity = await identityCheck(config);
  report(identity.result);
  report(
    identity.stackRegion === undefined
      ? { outcome: 'SKIP', check: 'stack region', detail: 'no region to check (see account and region)' }
      : stackRegionCheck(config, identity.stackRegion),
  );
  (await entitlementChecks(config)).forEach(report);
  (await meteringChecks(config)).forEach(report);
  (await legacyTopicChecks(config)).forEach(report);
  if (identity.stackRegion === undefined) {
    const detail = 'no region to look in (see account and region)';
    report({ outcome: 'SKIP', check: 'CDK bootstrap', detail });
    report({ outcome: 'SKIP', check: 'Lambda concurrency', detail });
  } else {
    for (const region of regionsToBootstrap(config, identity.stackRegion)) {
      report(await bootstrapCheck(region, identity.account));
    }
    report(await concurrencyCheck(identity.stackRegion));
  }
  const failed = results.filter((result) => result.outcome === 'FAIL').length;
  console.log(
    failed === 0
      ? '\nEvery check passed (or does not apply): ready for cdk deploy.'
      : `\n${failed} of ${results.length} checks failed: fix them before cdk deploy.`,
  );
  return failed === 0 ? 0 : 1;
}

/** `key=value` pairs, as `cdk -c` takes them. */
function contextArguments(pairs: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const separator = pair.indexOf('=');
      if (separator <= 0) throw new ArgumentError(`-c takes key=value, not "${pair}"`);
      return [pair.slice(0, separator), pair.slice(separator + 1)];
    }),
  );
}

function print(result: CheckResult): void {
  const indent = ' '.repeat(6);
  const lines = [`${result.outcome.padEnd(4)}  ${result.check}: ${result.detail.replace(/\n/g, `\n${indent}`)}`];
  if (result.fix !== undefined) lines.push(`${indent}fix: ${result.fix}`);
  console.log(lines.join('\n'));
}

runCommand('preflight', USAGE, main);
