/**
 * `npm run report`: the usage report (`lambdas/core/metering/report/usage-report.ts`) of the Usage table `targets.ts` names,
 * to reconcile usage with billing. Per subscriber, dimension and UTC day, the units recorded, billed, rejected by
 * reason, pending and expired, and the totals; then the request ids of the `BatchMeterUsage` calls that settled them,
 * each the `requestID` of a CloudTrail event.
 *
 * ```sh
 * npm run report                                                   # yesterday and today, every subscriber
 * npm run report -- --from 2026-11-01 --to 2026-11-30 --subscriber 'license:arn:aws:license-manager::...' --json
 * ```
 *
 * `--to` is today unless given and `--from` the day before `--to`, by the targets' clock (the simulator's, locally).
 * Without `--subscriber` (which may be repeated) the whole Usage table is scanned; a `--subscriber` that names no
 * subscriber (no subscriber item and no usage partition, as for `npm run meter`) is refused. `--json` prints the
 * report as JSON and nothing else on stdout.
 *
 * Exit status: 0 when every row and the totals balance and no bucket is an anomaly; 1 when they do not (the report is
 * printed all the same, and a line on stderr says what is wrong), a `--subscriber` names nobody (nothing is printed),
 * or a table cannot be read; 2 for bad arguments.
 */
import '../sdk-environment.ts';
import { messageOf } from '../../lambdas/core/errors.ts';
import { documentClient } from '../../lambdas/core/aws-clients.ts';
import {
  usageReport,
  UsageReportOptionsError,
  type UsageFigures,
  type UsageReport,
} from '../../lambdas/core/metering/report/index.ts';
import {
  alignedTable,
  ArgumentError,
  CommandFailureError,
  counted,
  parseCommandLine,
  runCommand,
} from './command-line.ts';
import { mustBeKnownSubscribers, subscriberIdArgument } from './known-subscribers.ts';
import { commandTargets, type CommandTargets } from './targets.ts';

const USAGE = 'npm run report -- [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--subscriber <id>]... [--json]';
const DAY_MS = 86_400_000;

interface Arguments {
  readonly from: Date | undefined;
  readonly to: Date | undefined;
  readonly subscriberIds: readonly string[] | undefined;
  readonly json: boolean;
}

function parseArguments(args: readonly string[]): Arguments {
  const { values } = parseCommandLine(args, {
    from: { type: 'string' },
    to: { type: 'string' },
    subscriber: { type: 'string', multiple: true },
    json: { type: 'boolean', default: false },
  });
  if (values.subscriber?.some((id) => id === '')) throw new ArgumentError('--subscriber must not be empty');
  values.subscriber?.forEach((id) => subscriberIdArgument('--subscriber', id));
  const from = values.from === undefined ? undefined : dayArgument('--from', values.from);
  const to = values.to === undefined ? undefined : dayArgument('--to', values.to);
  // Both on the command line: wrong before any stack is looked for.
  if (from !== undefined && to !== undefined && from > to) {
    throw new ArgumentError(`--from ${values.from} is after --to ${values.to}`);
  }
  return {
    from,
    to,
    subscriberIds: values.subscriber,
    json: values.json,
  };
}

function dayArgument(option: string, text: string): Date {
  const day = new Date(`${text}T00:00:00.000Z`);
  // The round trip refuses what Date would otherwise stretch or read another way (2026-02-30, +002026-11-18).
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text) || Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== text) {
    throw new ArgumentError(`${option} must be a UTC day written YYYY-MM-DD, not "${text}"`);
  }
  return day;
}

async function main(args: readonly string[]): Promise<number> {
  const options = parseArguments(args);
  const targets = await commandTargets();
  const to = options.to ?? targets.clock.now();
  const from = options.from ?? new Date(to.getTime() - DAY_MS);
  const client = documentClient(targets.dynamoDbEndpoint);
  let report: UsageReport;
  try {
    try {
      report = await usageReport(client, targets.usageTable, {
        from,
        to,
        ...(options.subscriberIds === undefined ? {} : { subscriberIds: options.subscriberIds }),
      });
    } catch (error) {
      if (error instanceof UsageReportOptionsError) throw new ArgumentError(error.message, { cause: error });
      throw new CommandFailureError(
        `cannot read the Usage table ${targets.usageTable} at ${targets.dynamoDbEndpoint ?? "AWS's endpoint"}: ` +
          messageOf(error),
        { cause: error },
      );
    }
    // After the report, so that bad dates are refused first (exit status 2), as they are without --subscriber.
    await mustBeKnownSubscribers(client, targets, options.subscriberIds ?? []);
  } finally {
    client.destroy();
  }
  console.log(options.json ? JSON.stringify(report, null, 2) : readable(report, targets));
  const problems = problemsOf(report);
  if (problems === undefined) return 0;
  console.error(`npm run report: ${problems}; the report says where`);
  return 1;
}

/** What keeps the report from reconciling, in one line; undefined when nothing does. */
function problemsOf(report: UsageReport): string | undefined {
  const unbalanced = report.rows.filter((row) => !row.balanced).length;
  const problems = [
    ...(unbalanced === 0 ? [] : [`${counted(unbalanced, 'row does', 'rows do')} not balance`]),
    ...(report.totals.balanced ? [] : ['the totals do not balance']),
    ...(report.anomalies.length === 0
      ? []
      : [counted(report.anomalies.length, 'bucket is an anomaly', 'buckets are anomalies')]),
  ];
  return problems.length === 0 ? undefined : problems.join(', ');
}

function readable(report: UsageReport, targets: CommandTargets): string {
  const header = ['subscriber', 'dimension', 'day', 'buckets', 'recorded', 'billed', 'rejected', 'pending', 'expired'];
  const rows = [
    ...report.rows.map((row) => [row.subscriberId, row.dimension, row.day, ...figures(row, row.anomalies)]),
    ['total', '', '', ...figures(report.totals, report.anomalies.length)],
  ];
  // The figures, `rejected` too (`0`, or `CustomerNotSubscribed 7`), end under the end of their header.
  const figureColumns = new Set(header.flatMap((name, column) => (column >= 3 ? [column] : [])));
  const table = alignedTable(header, rows, figureColumns);
  return [
    `Usage of ${report.from} to ${report.to} (UTC days) in ${targets.usageTable}: each unit counts on the day of the ` +
      'hour whose bucket holds it, usage carried from a frozen hour in the later one.',
    '',
    ...table,
    '',
    ...(report.anomalies.length === 0
      ? [`Every row balances: recorded = billed + rejected + pending + expired.`]
      : [
          'Anomalies (a bug, or an item edited by hand; their units count as recorded only):',
          ...report.anomalies.map(
            (anomaly) => `  ${anomaly.key.pk} ${anomaly.key.sk}: ${anomaly.problem} (${anomaly.quantity} units)`,
          ),
        ]),
    '',
    ...(report.unconfirmedSends.length === 0
      ? []
      : [
          'Unconfirmed sends: rejected or expired after an earlier send that may have gone out with no definite ' +
            'answer (it may also have been throttled or never sent), which Marketplace may have billed. Look for that ' +
            'BatchMeterUsage call in CloudTrail (same customer, dimension and hour, after the time given):',
          ...report.unconfirmedSends.map(
            (send) =>
              `  ${send.subscriberId ?? send.key.pk} ${send.dimension ?? ''} ${send.hour ?? send.key.sk}: ` +
              `${send.quantity} units, ${send.outcome}, sent after ${send.frozenAt}`,
          ),
          '',
        ]),
    ...(report.requestIds.length === 0
      ? ['No BatchMeterUsage call settled these buckets.']
      : [
          "Request ids of the BatchMeterUsage calls that settled these buckets (CloudTrail's requestID):",
          ...report.requestIds.map((id) => `  ${id}`),
        ]),
  ].join('\n');
}

/** The figure columns, and a last one only when the figures do not reconcile. */
function figures(sums: UsageFigures, anomalies: number): string[] {
  const rejected = Object.entries(sums.rejected);
  const check = [
    ...(sums.balanced ? [] : [`${sums.unaccounted} units unaccounted for`]),
    ...(anomalies === 0 ? [] : [counted(anomalies, 'anomaly', 'anomalies')]),
  ];
  return [
    String(sums.buckets),
    String(sums.recorded),
    String(sums.billed),
    rejected.length === 0 ? '0' : rejected.map(([reason, units]) => `${reason} ${units}`).join(', '),
    String(sums.pending),
    String(sums.expired),
    ...(check.length === 0 ? [] : [`<- ${check.join(', ')}`]),
  ];
}

runCommand('report', USAGE, main);
