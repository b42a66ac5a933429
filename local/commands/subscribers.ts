/**
 * `npm run subscribers`: the subscribers of the Subscribers table `targets.ts` names (the running `npm start`, or a
 * deployed stack's), each with its state as the access check would answer it now, who it is (license and buyer
 * account, or legacy customer identifier), its product, its entitlements, and its usage not yet billed: per
 * dimension, the buckets still open or frozen in the Usage table and their units.
 *
 * ```sh
 * npm run subscribers                                    # every subscriber
 * npm run subscribers -- --status ending                 # those in their final-metering window
 * npm run subscribers -- --id 'license:arn:aws:license-manager::...' --json
 * ```
 *
 * Without `--id` the whole Subscribers table is scanned, and each subscriber's partition of the Usage table queried:
 * an operator's tool, run by hand. `--json` prints a JSON array and nothing else on stdout.
 *
 * Exit status: 0 when listed (an empty list too); 1 when `--id` names no subscriber or a table cannot be read;
 * 2 for bad arguments.
 */
import '../sdk-environment.ts';
import { messageOf } from '../../lambdas/core/errors.ts';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../lambdas/core/aws-clients.ts';
import { bucketItemOf } from '../../lambdas/core/metering/bucket/index.ts';
import { BucketLedger } from '../../lambdas/core/metering/run/index.ts';
import { subscriberAccess, subscriberAccessOf, type SubscriberAccess } from '../../lambdas/core/subscriber-access.ts';
import { subscriptionStatuses, type SubscriptionStatus } from '../../lambdas/core/subscriber.ts';
import { finalMeteringGraceVariable } from '../../lib/function-environment.ts';
import { alignedTable, ArgumentError, CommandFailureError, parseCommandLine, runCommand } from './command-line.ts';
import { commandTargets, type CommandTargets } from './targets.ts';
import { subscriberIdArgument } from './known-subscribers.ts';
import { subscriberItems } from './subscriber-items.ts';

const USAGE = `npm run subscribers -- [--id <subscriberId>] [--status ${subscriptionStatuses.options.join('|')}] [--json]`;
/** Buckets are of hours up to now; a day past it leaves room for a machine clock running behind. */
const PENDING_HORIZON_MS = 86_400_000;

/** A dimension's usage not yet billed: the open or frozen buckets of the subscriber's partition. */
interface PendingUsage {
  readonly dimension: string;
  readonly buckets: number;
  readonly units: number;
  /** The oldest hour with usage pending. */
  readonly oldestHour: string;
}

type SubscriberListing = SubscriberAccess & { readonly pendingUsage: readonly PendingUsage[] };

async function main(args: string[]): Promise<number> {
  const { values } = parseCommandLine(args, {
    id: { type: 'string' },
    status: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  const status = values.status === undefined ? undefined : statusArgument(values.status);
  if (values.id === '') throw new ArgumentError('--id must not be empty');
  if (values.id !== undefined) subscriberIdArgument('--id', values.id);
  const targets = await commandTargets();
  const client = documentClient(targets.dynamoDbEndpoint);
  try {
    console.log(await listing(client, targets, values.id, status, values.json));
    return 0;
  } catch (error) {
    if (!isServiceCallFailure(error)) throw error;
    // DynamoDB's own words ("Missing Authentication Token" from an endpoint that is not DynamoDB) name neither.
    throw new CommandFailureError(
      `cannot read the tables ${targets.subscribersTable} and ${targets.usageTable} at ` +
        `${targets.dynamoDbEndpoint ?? "AWS's endpoint"}: ${messageOf(error)}`,
      { cause: error },
    );
  } finally {
    client.destroy();
  }
}

/** A call to DynamoDB that failed (an answer, or none): not a mistake of the command's own. */
function isServiceCallFailure(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    ('$metadata' in error ||
      typeof (error as { code?: unknown }).code === 'string' ||
      (error as Error).name === 'TimeoutError')
  );
}

/** The subscribers the options ask for, with their pending usage, as the command prints them. */
async function listing(
  client: DynamoDBDocumentClient,
  targets: CommandTargets,
  id: string | undefined,
  status: SubscriptionStatus | undefined,
  json: boolean,
): Promise<string> {
  const now = targets.clock.now();
  const grace = Number(finalMeteringGraceVariable(targets.config).FINAL_METERING_GRACE_SECONDS);
  const subscribers =
    id === undefined
      ? await everySubscriber(client, targets, now, grace)
      : [await oneSubscriber(client, targets, id, now, grace)];
  const listed = subscribers.filter((subscriber) => status === undefined || subscriber.status === status);
  const ledger = new BucketLedger(client, targets.usageTable);
  const through = new Date(now.getTime() + PENDING_HORIZON_MS);
  const withUsage: SubscriberListing[] = [];
  for (const subscriber of listed) {
    withUsage.push({ ...subscriber, pendingUsage: await pendingUsageOf(ledger, subscriber.subscriberId, through) });
  }
  return json ? JSON.stringify(withUsage, null, 2) : readable(withUsage, targets, now, status);
}

function statusArgument(text: string): SubscriptionStatus {
  const parsed = subscriptionStatuses.safeParse(text);
  if (!parsed.success) {
    throw new ArgumentError(`--status must be one of ${subscriptionStatuses.options.join(', ')}, not "${text}"`);
  }
  return parsed.data;
}

async function oneSubscriber(
  client: DynamoDBDocumentClient,
  targets: CommandTargets,
  subscriberId: string,
  now: Date,
  grace: number,
): Promise<SubscriberAccess> {
  const found = await subscriberAccess(client, targets.subscribersTable, subscriberId, now, grace);
  if (found === undefined)
    throw new CommandFailureError(`no subscriber ${subscriberId} in ${targets.subscribersTable}`);
  return found;
}

async function everySubscriber(
  client: DynamoDBDocumentClient,
  targets: CommandTargets,
  now: Date,
  grace: number,
): Promise<SubscriberAccess[]> {
  const subscribers: SubscriberAccess[] = [];
  for await (const item of subscriberItems(client, targets.subscribersTable)) {
    const access = subscriberAccessOf(item, now, grace);
    if (access !== undefined) subscribers.push(access);
  }
  return subscribers.sort((a, b) => a.subscriberId.localeCompare(b.subscriberId));
}

async function pendingUsageOf(ledger: BucketLedger, subscriberId: string, through: Date): Promise<PendingUsage[]> {
  const byDimension = new Map<string, { buckets: number; units: number; oldestHour: string }>();
  for await (const item of ledger.unsettledOf(subscriberId, through)) {
    const bucket = bucketItemOf(item);
    if (bucket === undefined) continue;
    const hour = bucket.hour.toISOString();
    const sums = byDimension.get(bucket.dimension) ?? { buckets: 0, units: 0, oldestHour: hour };
    byDimension.set(bucket.dimension, {
      buckets: sums.buckets + 1,
      units: sums.units + bucket.quantity,
      oldestHour: hour < sums.oldestHour ? hour : sums.oldestHour,
    });
  }
  return [...byDimension].sort(([a], [b]) => a.localeCompare(b)).map(([dimension, sums]) => ({ dimension, ...sums }));
}

/** The entitlements as read last; none read yet (Marketplace could not be asked) is not the same as none. */
function entitlementsOf(subscriber: SubscriberListing): string {
  const listed = subscriber.entitlements.map((entitlement) => `${entitlement.dimension}=${entitlement.value}`);
  if (listed.length > 0) return listed.join(', ');
  return subscriber.entitlementsFetchedAt === undefined ? 'not read yet' : '-';
}

function readable(
  subscribers: readonly SubscriberListing[],
  targets: CommandTargets,
  now: Date,
  status: SubscriptionStatus | undefined,
): string {
  const header = ['subscriber', 'status', 'product', 'customer', 'entitlements', 'usage pending (units, buckets)'];
  const rows = subscribers.map((subscriber) => [
    subscriber.subscriberId,
    statusOf(subscriber),
    subscriber.productCode,
    customerOf(subscriber),
    entitlementsOf(subscriber),
    subscriber.pendingUsage.map((usage) => `${usage.dimension} ${usage.units} (${usage.buckets})`).join(', ') || '-',
  ]);
  const which = status === undefined ? 'Subscribers' : `Subscribers ${status}`;
  return [
    `${which} in ${targets.subscribersTable} as of ${now.toISOString()}: ${subscribers.length}` +
      ` (usage pending from ${targets.usageTable})`,
    '',
    ...(subscribers.length === 0 ? [] : alignedTable(header, rows)),
  ].join('\n');
}

function statusOf(subscriber: SubscriberAccess): string {
  const since = subscriber.statusChangedAt === undefined ? '' : ` since ${subscriber.statusChangedAt}`;
  const deadline =
    subscriber.finalMeteringDeadline === undefined
      ? ''
      : `, final-metering deadline ${subscriber.finalMeteringDeadline}`;
  const trial = subscriber.offerType === 'free-trial' ? ' (free trial)' : '';
  return `${subscriber.status}${trial}${since}${deadline}`;
}

function customerOf(subscriber: SubscriberAccess): string {
  return [
    subscriber.customerAWSAccountId === undefined ? [] : [`account ${subscriber.customerAWSAccountId}`],
    subscriber.customerIdentifier === undefined ? [] : [`customer ${subscriber.customerIdentifier}`],
    subscriber.registration === undefined ? ['not registered'] : [registrationOf(subscriber.registration)],
  ]
    .flat()
    .join(', ');
}

function registrationOf(registration: NonNullable<SubscriberAccess['registration']>): string {
  const { company, email } = registration.details;
  return `registered ${[company, email].filter((detail) => detail !== undefined).join(' ') || registration.registeredAt}`;
}

runCommand('subscribers', USAGE, main);
