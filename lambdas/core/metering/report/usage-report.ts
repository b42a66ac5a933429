/**
 * The usage report, to reconcile what was recorded with what Marketplace billed (`npm run report` prints it): per
 * subscriber, dimension and UTC day, the units recorded (the sum of the buckets' quantities) and where they went,
 * `billed`, `rejected` by reason, `pending` (open or frozen) or `expired`, with the request ids of the
 * `BatchMeterUsage` calls that settled them: CloudTrail's event for each call has the same `requestID`.
 *
 * Every unit is in exactly one bucket, so in exactly one row. Usage that arrives for an hour the metering run has
 * frozen is carried into a later open hour by the recorder (`usage-recorder.ts`) and counted there, under that
 * hour's day (usage of 23:40 carried past midnight counts on the next day), never under the hour it happened in.
 *
 * Buckets rejected or expired after an earlier send whose answer was never learned are listed apart
 * (`unconfirmedSends`, and the `unconfirmed` figure): Marketplace may have billed that send, which CloudTrail tells.
 *
 * Every row and the totals must balance: `recorded = billed + rejected (every reason) + pending + expired`. The report
 * checks it rather than assumes it: a bucket item that breaks a rule the metering code keeps (an unknown state, a
 * quantity that is not a count, an unsettled bucket missing from the `pending` index, ...) counts as recorded only and
 * is listed in `anomalies`, so its row does not balance and `reconciled` is false. That would mean a bug.
 *
 * Reading: for given subscribers, a Query of each one's partition; for all of them, a Scan of the whole Usage table.
 * The report is an operator's tool, run by hand, so a Scan is acceptable here. Every page is read, strongly consistent.
 *
 * @example
 * // From the project root, with `node --import tsx --input-type=module`: `npm start`'s table, or the one named.
 * import { documentClient } from './lambdas/core/aws-clients.ts';
 * import { usageReport } from './lambdas/core/metering/report/usage-report.ts';
 *
 * const client = documentClient(process.env.DYNAMODB_ENDPOINT ?? 'http://127.0.0.1:8000'); // in AWS: documentClient()
 * const report = await usageReport(client, process.env.USAGE_TABLE ?? 'Usage', {
 *   from: new Date('2026-11-17'),
 *   to: new Date('2026-11-18'),
 * });
 * if (!report.reconciled) throw new Error(`Usage does not reconcile: ${JSON.stringify(report.anomalies)}`);
 * console.log(JSON.stringify(report.totals));
 * // {"buckets":8,"recorded":46,"billed":26,"rejected":{"CustomerNotSubscribed":7},"pending":9,"expired":4,"unconfirmed":0,"unaccounted":0,"balanced":true}
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { bucketItemsIn, type ReadScope } from './usage-report-reader.ts';
import { DAY_MS, dayOf, UsageTally, type UsageReport } from './usage-report-tally.ts';
import { BackendError } from '../../errors.ts';

export type {
  BucketAnomaly,
  UnconfirmedSend,
  UsageFigures,
  UsageReport,
  UsageReportRow,
} from './usage-report-tally.ts';

export interface UsageReportOptions {
  /** The first UTC day reported: the one this instant falls in. */
  readonly from: Date;
  /** The last UTC day reported, included: the one this instant falls in. */
  readonly to: Date;
  /** Only these subscribers (each a Query of its partition); every subscriber (a Scan) when absent. */
  readonly subscriberIds?: readonly string[];
  /**
   * Items DynamoDB evaluates per request (its `Limit`): no limit but its 1 MB pages when absent. A small one spreads
   * a large Scan's reads over more requests; tests use it to make the report read many pages.
   */
  readonly pageSize?: number;
}

/** The options cannot make a report; nothing was read. */
export class UsageReportOptionsError extends BackendError {
  override readonly name = 'UsageReportOptionsError';
}

const FIRST_DAY = new Date('0000-01-01T00:00:00.000Z');
const LAST_DAY = new Date('9999-12-31T00:00:00.000Z');
const END_OF_LAST_DAY = new Date(LAST_DAY.getTime() + DAY_MS);

/**
 * The report of `usageTable`'s buckets of the days `options` name. Throws {@link UsageReportOptionsError} for
 * options that name no days, and DynamoDB's own error when the table cannot be read.
 */
export async function usageReport(
  client: DynamoDBDocumentClient,
  usageTable: string,
  options: UsageReportOptions,
): Promise<UsageReport> {
  const scope = scopeOf(options);
  const tally = new UsageTally(scope.first, scope.end);
  for await (const item of bucketItemsIn(client, usageTable, scope)) tally.add(item);
  return tally.report();
}

function scopeOf(options: UsageReportOptions): ReadScope {
  const { from, to, subscriberIds, pageSize } = options;
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) {
    throw new UsageReportOptionsError('from and to must be valid dates');
  }
  const first = startOfDay(from);
  const end = new Date(startOfDay(to).getTime() + DAY_MS);
  if (first >= end) {
    throw new UsageReportOptionsError(`from ${dayOf(from)} is after to ${dayOf(to)}`);
  }
  if (first < FIRST_DAY || end > END_OF_LAST_DAY) {
    throw new UsageReportOptionsError(
      `from and to must be days from ${dayOf(FIRST_DAY)} to ${dayOf(LAST_DAY)}, the years a bucket's hour is written with`,
    );
  }
  if (pageSize !== undefined && (!Number.isSafeInteger(pageSize) || pageSize < 1)) {
    throw new UsageReportOptionsError(`pageSize must be a whole number from 1, not ${pageSize}`);
  }
  return {
    first,
    end,
    // A subscriber asked for twice is still read, and counted, once.
    subscriberIds: subscriberIds === undefined ? undefined : [...new Set(subscriberIds)],
    pageSize,
  };
}

function startOfDay(at: Date): Date {
  return new Date(Math.floor(at.getTime() / DAY_MS) * DAY_MS);
}
