/**
 * The simulator's whole state as one JSON document, so that a restart on the same data directory finds everything it
 * had: settings, clock, products, licenses, registration tokens, billed records and results, lifecycle events and
 * their subscriptions, the fault plan and how far it has got, statistics, `MeterUsage` client tokens and the
 * `RegisterUsage` signing key. The format is versioned: a document of another version is refused, not guessed at.
 */
import { z } from 'zod';
import { MARKETPLACE_HOME_REGION, REGION_NAME_PATTERN } from '../contracts/index.ts';
import { faultPlanSchema } from './faults.ts';
import { operations } from './marketplace-protocol.ts';
import { settingsPatchSchema } from './settings.ts';

export const SNAPSHOT_FORMAT = 'aws-marketplace-simulator-state';
export const SNAPSHOT_VERSION = 1;

const date = z.iso.datetime().transform((text) => new Date(text));
const count = z.number().int().min(0);

const entitlementValue = z.union([
  z.strictObject({ IntegerValue: z.number().int() }),
  z.strictObject({ DoubleValue: z.number() }),
  z.strictObject({ BooleanValue: z.boolean() }),
  z.strictObject({ StringValue: z.string() }),
]);

/** A product as the control API took it (`lib/config.ts`'s product shape), with the id the simulator gave it. */
const product = z.strictObject({
  code: z.string(),
  productId: z.string(),
  name: z.string(),
  pricingModel: z.enum(['subscriptions', 'contracts', 'contracts-with-consumption']),
  identityModel: z.enum(['license', 'legacy']),
  dimensions: z.array(
    z.strictObject({ name: z.string(), description: z.string().optional(), kind: z.enum(['metered', 'contract']) }),
  ),
  snsTopicArns: z.strictObject({ subscription: z.string(), entitlement: z.string() }).optional(),
});

const license = z.strictObject({
  id: z.string(),
  productCode: z.string(),
  identityModel: z.enum(['license', 'legacy']),
  customerAWSAccountId: z.string(),
  licenseArn: z.string().optional(),
  customerIdentifier: z.string().optional(),
  agreementId: z.string(),
  offerId: z.string(),
  offerType: z.enum(['standard', 'free-trial']),
  createdAt: date,
  activatedAt: date.optional(),
  failedAt: date.optional(),
  endedAt: date.optional(),
  endReason: z.enum(['CANCELLED', 'EXPIRED', 'TERMINATED']).optional(),
  entitlements: z.array(
    z.strictObject({ dimension: z.string(), value: entitlementValue, expirationDate: date.optional() }),
  ),
});

const billedRecord = z.strictObject({
  meteringRecordId: z.string(),
  operation: z.enum(['BatchMeterUsage', 'MeterUsage']),
  requestId: z.string(),
  receivedAt: date,
  productCode: z.string(),
  licenseId: z.string(),
  licenseArn: z.string().optional(),
  customerIdentifier: z.string().optional(),
  customerAWSAccountId: z.string(),
  dimension: z.string(),
  timestamp: date,
  hour: date,
  quantity: count,
  allocations: z.array(
    z.strictObject({ quantity: count, tags: z.array(z.strictObject({ key: z.string(), value: z.string() })) }),
  ),
  freeTrial: z.boolean(),
});

const recordResult = z.strictObject({
  requestId: z.string(),
  receivedAt: date,
  status: z.enum(['Success', 'CustomerNotSubscribed', 'DuplicateRecord']),
  meteringRecordId: z.string().optional(),
  productCode: z.string().optional(),
  licenseId: z.string().optional(),
  dimension: z.string(),
  timestamp: date,
  quantity: count,
});

const doubleBilling = z.strictObject({
  kind: z.literal('double-billing'),
  requestId: z.string(),
  receivedAt: date,
  recordPosition: count,
  productCode: z.string(),
  licenseId: z.string(),
  licenseArn: z.string(),
  customerAWSAccountId: z.string(),
  dimension: z.string(),
  hour: date,
  meteringRecordIds: z.tuple([z.string(), z.string()]),
  message: z.string(),
});

const eventFormat = z.enum(['eventbridge', 'sns']);
const eventBody = z.record(z.string(), z.unknown());

const operationStats = z.strictObject({
  requests: count,
  throttled: count,
  internalErrors: count,
  dropped: count,
  delayed: count,
  unprocessedRecords: count,
});

/**
 * Settings as saved: a simulator of before `enabledRegions` took region names only may have saved others, which no
 * request is ever signed for. They are left out, rather than refuse the whole state (`us-east-1` if none is left).
 */
function withRegionNamesOnly(settings: unknown): unknown {
  const regions = (settings as { enabledRegions?: unknown } | null)?.enabledRegions;
  if (!Array.isArray(regions)) return settings;
  const named = regions.filter((region) => typeof region === 'string' && REGION_NAME_PATTERN.test(region));
  return { ...(settings as object), enabledRegions: named.length > 0 ? named : [MARKETPLACE_HOME_REGION] };
}

/**
 * TPS limits were once taken as fractions, and counted as the next whole number of calls: saved so, they are read as
 * that number.
 */
function withWholeTpsLimits(plan: unknown): unknown {
  const limits: unknown = (plan as { tpsLimits?: unknown } | null)?.tpsLimits;
  if (typeof limits !== 'object' || limits === null) return plan;
  const whole = Object.entries(limits as Record<string, unknown>).map(([operation, limit]): [string, unknown] => [
    operation,
    typeof limit === 'number' ? Math.ceil(limit) : limit,
  ]);
  return { ...(plan as object), tpsLimits: Object.fromEntries(whole) };
}

export const snapshotSchema = z.strictObject({
  format: z.literal(SNAPSHOT_FORMAT),
  version: z.literal(SNAPSHOT_VERSION),
  /** Wall-clock time of the save: a running simulator clock goes on from where it was by the time since. */
  savedAt: date,
  settings: z.preprocess(withRegionNamesOnly, settingsPatchSchema),
  clock: z.strictObject({ now: date, running: z.boolean() }),
  marketplace: z.strictObject({
    products: z.array(product),
    licenses: z.array(license),
    registrationTokens: z.array(
      z.strictObject({ token: z.string(), licenseId: z.string(), issuedAt: date, resolvedAt: date.optional() }),
    ),
  }),
  ledger: z.strictObject({
    billed: z.array(z.strictObject({ dedupKey: z.string(), fingerprint: z.string(), record: billedRecord })),
    results: z.array(recordResult),
    doubleBillings: z.array(doubleBilling),
  }),
  events: z.strictObject({
    scheduled: z.array(
      z.strictObject({ dueAt: z.number(), format: eventFormat, licenseId: z.string(), body: eventBody }),
    ),
    published: z.array(
      z.strictObject({ sequence: count, format: eventFormat, licenseId: z.string(), body: eventBody }),
    ),
    subscriptions: z.array(z.strictObject({ id: z.string(), url: z.string(), format: eventFormat })),
    deliveries: z.strictObject({ delivered: count, failed: count }),
  }),
  faults: z.strictObject({
    plan: z.preprocess(withWholeTpsLimits, faultPlanSchema),
    progress: z.strictObject({
      randomPosition: z.number().int().min(0),
      matched: z.array(count),
      applied: z.array(count),
    }),
  }),
  stats: z.record(z.enum(operations), operationStats),
  clientTokens: z.array(z.strictObject({ token: z.string(), fingerprint: z.string(), response: z.unknown() })),
  /** The `RegisterUsage` signing key (PKCS#8 PEM), once one has been made: a key of this local simulator only. */
  signingKeyPem: z.string().nullable(),
});

/** The state as a simulator takes it up; written as JSON, whose ISO-8601 strings the schema reads back as dates. */
export type SimulatorSnapshot = z.output<typeof snapshotSchema>;

/** The state as a simulator hands it over to be saved: the same document, read-only all the way down. */
export type SimulatorSnapshotToSave = ReadOnly<SimulatorSnapshot>;

type ReadOnly<T> = T extends Date
  ? T
  : T extends readonly (infer Item)[]
    ? readonly ReadOnly<Item>[]
    : T extends object
      ? { readonly [Key in keyof T]: ReadOnly<T[Key]> }
      : T;
