/**
 * The books of one seed: the units `POST /usage` answered `accepted`, per subscriber, dimension and the hour the answer
 * named, held against what the Marketplace simulator billed and what `npm run report` says. Accepted means billable:
 * every key must be billed exactly its accepted units (a zero-usage record, billed 0, where nothing was accepted), with
 * no `DuplicateRecord`, and the report must account every unit as billed: none rejected, expired, pending or
 * unconfirmed.
 */
import type { BilledRecord, MarketplaceControl } from './marketplace-control.ts';
import { report } from './metering-commands.ts';
import type { Subscription } from './usage-rules.ts';

export class AcceptedUnits {
  private readonly units = new Map<string, number>();

  add(subscriberId: string, dimension: string, hour: string, quantity: number): void {
    const key = keyOf(subscriberId, dimension, hour);
    this.units.set(key, (this.units.get(key) ?? 0) + quantity);
  }

  total(): number {
    return [...this.units.values()].reduce((sum, units) => sum + units, 0);
  }

  entries(): IterableIterator<[string, number]> {
    return this.units.entries();
  }
}

export interface SeedTotals {
  readonly recorded: number;
  readonly billed: number;
  /** Accepted units then refused by Marketplace: the report's `rejected`, by every reason. */
  readonly rejected: number;
  readonly expired: number;
}

export interface Audit {
  readonly problems: readonly string[];
  readonly totals: SeedTotals;
}

interface ReportFigures {
  readonly recorded: number;
  readonly billed: number;
  readonly rejected: Readonly<Record<string, number>>;
  readonly pending: number;
  readonly expired: number;
  readonly unconfirmed: number;
  readonly balanced: boolean;
}

interface UsageReport {
  readonly totals: ReportFigures;
  readonly anomalies: readonly unknown[];
  readonly unconfirmedSends: readonly unknown[];
  readonly reconciled: boolean;
}

export interface AuditInput {
  readonly marketplace: MarketplaceControl;
  readonly commandEnvironment: Readonly<Record<string, string>>;
  readonly subscriptions: readonly Subscription[];
  readonly accepted: AcceptedUnits;
  /** The UTC days the seed's usage may fall in, `YYYY-MM-DD`. */
  readonly from: string;
  readonly to: string;
}

export async function auditBooks(input: AuditInput): Promise<Audit> {
  const subscriberOfLicense = new Map(input.subscriptions.map(({ buyer }) => [buyer.licenseId, buyer.subscriberId]));
  const billed = (await input.marketplace.billed()).filter((record) => subscriberOfLicense.has(record.licenseId));
  const billedUnits = billedByKey(billed, subscriberOfLicense);
  const problems = [
    ...billingProblems(input.accepted, billedUnits),
    ...(await duplicateRecordProblems(input.marketplace, subscriberOfLicense)),
  ];
  const { status, report: usage } = await report<UsageReport>(input.commandEnvironment, {
    from: input.from,
    to: input.to,
    subscriberIds: input.subscriptions.map(({ buyer }) => buyer.subscriberId),
  });
  problems.push(...reportProblems(usage, status, input.accepted.total()));
  const rejected = sum(Object.values(usage.totals.rejected));
  const billedTotal = sum(billed.map((record) => record.quantity));
  return {
    problems,
    totals: {
      recorded: usage.totals.recorded,
      billed: billedTotal,
      rejected,
      expired: usage.totals.expired,
    },
  };
}

function billedByKey(records: readonly BilledRecord[], subscriberOfLicense: ReadonlyMap<string, string>) {
  const byKey = new Map<string, { quantity: number; records: number }>();
  for (const record of records) {
    const key = keyOf(subscriberOfLicense.get(record.licenseId)!, record.dimension, record.hour);
    const known = byKey.get(key) ?? { quantity: 0, records: 0 };
    byKey.set(key, { quantity: known.quantity + record.quantity, records: known.records + 1 });
  }
  return byKey;
}

function billingProblems(
  accepted: AcceptedUnits,
  billed: ReadonlyMap<string, { quantity: number; records: number }>,
): string[] {
  const problems: string[] = [];
  const acceptedByKey = new Map(accepted.entries());
  for (const key of new Set([...acceptedByKey.keys(), ...billed.keys()])) {
    const units = acceptedByKey.get(key) ?? 0;
    const bill = billed.get(key);
    if (bill === undefined && units > 0) problems.push(`${key}: ${units} units accepted, nothing billed`);
    if (bill !== undefined && bill.quantity !== units) {
      problems.push(`${key}: ${units} units accepted, ${bill.quantity} billed`);
    }
    if (bill !== undefined && bill.records > 1) problems.push(`${key}: billed in ${bill.records} records`);
  }
  return problems;
}

async function duplicateRecordProblems(
  marketplace: MarketplaceControl,
  subscriberOfLicense: ReadonlyMap<string, string>,
): Promise<string[]> {
  const duplicates = (await marketplace.results()).filter(
    (result) =>
      result.status === 'DuplicateRecord' &&
      result.licenseId !== undefined &&
      subscriberOfLicense.has(result.licenseId),
  );
  return duplicates.map(
    (result) =>
      `Marketplace answered DuplicateRecord to ${subscriberOfLicense.get(result.licenseId!)} ${result.dimension} ` +
      `${result.timestamp} (${result.quantity} units): a bucket was sent with another quantity`,
  );
}

function reportProblems(usage: UsageReport, status: number | null, acceptedTotal: number): string[] {
  const { totals } = usage;
  const problems: string[] = [];
  if (status !== 0 || !usage.reconciled || !totals.balanced) {
    problems.push(`npm run report does not reconcile (exit ${status}): ${JSON.stringify(usage.anomalies)}`);
  }
  if (totals.recorded !== acceptedTotal) {
    problems.push(`the report records ${totals.recorded} units, POST /usage accepted ${acceptedTotal}`);
  }
  const unbilled = { rejected: totals.rejected, pending: totals.pending, expired: totals.expired };
  if (totals.billed !== totals.recorded || sum(Object.values(totals.rejected)) + totals.pending + totals.expired > 0) {
    problems.push(`the report bills ${totals.billed} of ${totals.recorded} units: ${JSON.stringify(unbilled)}`);
  }
  if (totals.unconfirmed > 0 || usage.unconfirmedSends.length > 0) {
    problems.push(`the report lists unconfirmed sends: ${JSON.stringify(usage.unconfirmedSends)}`);
  }
  return problems;
}

function keyOf(subscriberId: string, dimension: string, hour: string): string {
  return `${subscriberId} ${dimension} ${new Date(hour).toISOString()}`;
}

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);
