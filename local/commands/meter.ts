/**
 * `npm run meter`: one metering pass, now, against the tables and Marketplace the environment names (the running
 * `npm start` by default; see `targets.ts`), exactly as the scheduled function runs it.
 *
 *   npm run meter                          meter every closed hour (the hourly run)
 *   npm run meter -- --final               final metering of every ending subscriber (the every-minute run)
 *   npm run meter -- --subscriber <id>     one subscriber's buckets that are due (its final metering if it is ending)
 *   npm run meter -- --dry-run             with any of the above: print the BatchMeterUsage calls; write, send nothing
 *
 * Exit status: 0 when every due bucket was settled (billed, or rejected or expired: final answers, which a second run
 * would not change); 1 when the run failed, or left due usage pending (a call that failed after its retries, a write
 * that failed, a subscriber whose identity is incomplete: each logged as "Usage left pending"), to run again once the
 * cause is fixed; 2 for bad arguments.
 */
import '../sdk-environment.ts';
import { documentClient, meteringClient } from '../../lambdas/core/aws-clients.ts';
import {
  meteredDimensionsVariable,
  meteredProducts,
  meteringSettingsVariable,
  productsVariable,
} from '../../lambdas/core/environment.ts';
import { meterUsage, type MeteringRunSummary } from '../../lambdas/core/metering/run/index.ts';
import {
  finalMeteringGraceVariable,
  meteringVariables,
  productsVariable as productsVariableOf,
} from '../../lib/function-environment.ts';
import { commandTargets } from './targets.ts';
import { ArgumentError, parseCommandLine, runCommand } from './command-line.ts';
import { mustBeKnownSubscribers, subscriberIdArgument } from './known-subscribers.ts';

const USAGE = 'npm run meter -- [--dry-run] [--final | --subscriber <id>]';

function print(summary: MeteringRunSummary, final: boolean): void {
  const rejected = Object.entries(summary.rejected).map(([reason, count]) => `${reason} ${count}`);
  // Final metering also sends an ending subscriber's last, unclosed hour, once its send time has come.
  const which = final
    ? 'Buckets of ending subscribers (closed hours, and the final hour once it is due)'
    : `Buckets of hours before ${summary.dueBefore}`;
  console.log(`${summary.dryRun ? 'Dry run: nothing written, nothing sent. ' : ''}${which}
  due         ${summary.due} (zero-usage buckets made sure of: ${summary.zeroUsage}; not due yet: ${summary.waiting})
  billed      ${summary.billed}
  rejected    ${rejected.length === 0 ? 0 : rejected.join(', ')}
  expired     ${summary.expired}${summary.finalDeadlineMissed.records === 0 ? '' : ` (final-metering deadline missed: ${summary.finalDeadlineMissed.records} records, ${summary.finalDeadlineMissed.units} units)`}${summary.unconfirmedSends === 0 ? '' : `\n  unconfirmed ${summary.unconfirmedSends} rejected or expired after a send that may have gone out unanswered: see CloudTrail`}
  pending     ${summary.pending}${summary.oldestPending === undefined ? '' : ` (oldest: hour ${summary.oldestPending.hour}, ${summary.oldestPending.ageMinutes} min old)`}
  calls       ${summary.calls} (retries ${summary.retries}, throttles ${summary.throttles})${summary.settledElsewhere === 0 ? '' : `\n  elsewhere   ${summary.settledElsewhere} settled by another run meanwhile (not counted above)`}`);
  if (summary.requestIds.length > 0) console.log(`  request ids ${summary.requestIds.join(' ')}`);
  for (const [index, batch] of (summary.batches ?? []).entries()) {
    console.log(
      `\nBatchMeterUsage call ${index + 1}${batch.productCode === undefined ? '' : ` (ProductCode ${batch.productCode})`}:`,
    );
    console.log(JSON.stringify(batch.records, null, 2));
  }
}

runCommand('meter', USAGE, async (args) => {
  const { values } = parseCommandLine(args, {
    'dry-run': { type: 'boolean', default: false },
    final: { type: 'boolean', default: false },
    subscriber: { type: 'string' },
  });
  const { 'dry-run': dryRun, final, subscriber } = values;
  if (final && subscriber !== undefined) throw new ArgumentError('--final and --subscriber exclude each other');
  if (subscriber === '') throw new ArgumentError('--subscriber must not be empty');
  if (subscriber !== undefined) subscriberIdArgument('--subscriber', subscriber);
  const targets = await commandTargets();
  const { config } = targets;
  const client = documentClient(targets.dynamoDbEndpoint);
  const now = targets.clock.now();
  if (subscriber !== undefined) await mustBeKnownSubscribers(client, targets, [subscriber]);
  // The configuration reaches the run as it reaches the deployed function: through its environment variables.
  const variables = meteringVariables(config);
  const settings = meteringSettingsVariable.parse(variables.METERING);
  const summary = await meterUsage(
    {
      client,
      usageTable: targets.usageTable,
      subscribersTable: targets.subscribersTable,
      metering: meteringClient(config.marketplaceRegion, targets.marketplaceEndpoint, 1),
      closedHourGraceMinutes: settings.closedHourGraceMinutes,
      acceptanceWindowHours: settings.acceptanceWindowHours,
      finalMetering: {
        graceSeconds: Number(finalMeteringGraceVariable(config).FINAL_METERING_GRACE_SECONDS),
        finalHourMarginMinutes: settings.finalHourMarginMinutes,
      },
      callsPerSecond: settings.callsPerSecond,
      zeroUsageRecords: settings.zeroUsageRecords,
      products: meteredProducts(
        productsVariable.parse(productsVariableOf(config).PRODUCTS),
        meteredDimensionsVariable.parse(variables.METERED_DIMENSIONS),
      ),
      logger: {
        info: () => undefined,
        warn: (message, details) => console.warn(message, JSON.stringify(details)),
        error: (message, details) => console.error(message, JSON.stringify(details)),
      },
    },
    {
      now,
      dryRun,
      scope: subscriber !== undefined ? { subscriberId: subscriber } : final ? 'ending' : undefined,
    },
  );
  print(summary, final);
  // A dry run leaves every due bucket pending by design; a real run leaves one pending only when its sends failed.
  if (!dryRun && summary.pending > 0) {
    console.error(
      `npm run meter: ${summary.pending} due buckets left pending (the "Usage left pending" lines say why: one ` +
        '"not sent" was billed by nobody; one whose send "went unanswered" may have been billed, and sent again is ' +
        'not billed twice): run it again once the cause is fixed',
    );
    return 1;
  }
  return 0;
});
