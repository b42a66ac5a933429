/**
 * The simulator's behaviour switches. Defaults follow the current AWS documentation; where the documentation is
 * uncertain or has changed over time (see the README's "uncertain behaviours"), the alternative is one setting away.
 */
import { z } from 'zod';
import { MARKETPLACE_HOME_REGION, REGION_NAME_PATTERN } from '../contracts/index.ts';

/** Up to a year: any longer window or grace is a mistake, and would overflow date arithmetic long before it mattered. */
const hours = () =>
  z
    .number()
    .positive()
    .max(366 * 24);
const seconds = () =>
  z
    .number()
    .min(0)
    .max(366 * 86_400);

const settingsSchema = z.strictObject({
  /** The seller account: `account` of lifecycle events, `proposer` of agreements. */
  sellerAccountId: z.string().regex(/^\d{12}$/),
  /** Regions whose credential scope the metering operations accept; others get `DisabledApiException`. */
  enabledRegions: z
    .array(z.string().regex(REGION_NAME_PATTERN, 'must be an AWS region name such as eu-west-1'))
    .min(1)
    .refine((regions) => new Set(regions).size === regions.length, 'must name each region once'),
  /** Reject AWS-protocol requests without a SigV4 `Authorization` scoped to the `aws-marketplace` service. */
  requireSignature: z.boolean(),
  /** How far back `BatchMeterUsage` accepts a record timestamp (24 h today; older documents say 6 h or 1 h). */
  timestampWindowHours: hours(),
  /** Records for the previous month are accepted until this many hours into the 1st (UTC) of the next month. */
  monthEndCutoffHours: z.number().min(0).max(24),
  /** How far in the future a timestamp may be (undocumented; an assumption for clock skew). */
  futureToleranceSeconds: seconds(),
  /** How far back `MeterUsage` accepts a timestamp. */
  meterUsageWindowHours: hours(),
  /** How long a registration token resolves (4 h per the Seller Guide; it also says "may expire after about 1 h"). */
  registrationTokenTtlSeconds: seconds().positive(),
  /** When true, a second `ResolveCustomer` of the same token fails with `ExpiredTokenException`. */
  singleUseRegistrationTokens: z.boolean(),
  /** After a license ends, records are accepted for this long (the final-metering window, about 1 h). */
  finalMeteringGraceSeconds: seconds(),
  /**
   * How a record's timestamp is held against the license's activation (`InvalidLicenseException` for license records,
   * `CustomerNotSubscribed` for legacy ones): from the start of the hour the license was activated in
   * (`activation-hour`), or from the activation itself (`instant`, as "do not use a timestamp earlier than the start of
   * usage" may mean). Either way, a timestamp after the license's end is refused.
   */
  licensePeriodStart: z.enum(['activation-hour', 'instant']),
  /** Allocations per record beyond which `InvalidUsageAllocationsException` is raised (2500 now, 500 in older text). */
  maxAllocationsPerRecord: z.number().int().min(1).max(2500),
  /** What an identical resend returns: `Success` with the original id (API docs) or `DuplicateRecord` (one guide). */
  identicalResendStatus: z.enum(['Success', 'DuplicateRecord']),
  /** The error for a record carrying both `CustomerIdentifier` and `CustomerAWSAccountId` (undocumented). */
  bothCustomerIdentifiersError: z.enum(['ValidationException', 'InvalidCustomerIdentifierException']),
  /**
   * What a `BatchMeterUsage` with `ProductCode` whose records carry `LicenseArn` gets. AWS accepts it and bills the
   * customer-hour twice, once per identity: `bill-twice` does the same and flags it (a log line, `/control/warnings`);
   * `refuse` answers a `ValidationException`, to catch the mistake before it costs a buyer.
   */
  doubleBilling: z.enum(['bill-twice', 'refuse']),
  /** Reject license records of several products in one request ("each request covers one product only"). */
  rejectSeveralProductsPerRequest: z.boolean(),
  /** How an unknown legacy customer is answered: per record, or the whole batch with the modeled exception. */
  unknownLegacyCustomer: z.enum(['CustomerNotSubscribed', 'InvalidCustomerIdentifierException']),
  /**
   * Legacy products' `ResolveCustomer` answers also carry a `LicenseArn`, as products migrating to Concurrent
   * Agreements may: a fulfillment URL must still key such buyers by `CustomerIdentifier`.
   */
  legacyResolveIncludesLicenseArn: z.boolean(),
  /** Put an empty page (with a `NextToken`) before every page of `GetEntitlements`, as the real service may. */
  entitlementEmptyPages: z.boolean(),
  /**
   * Where the buyer page sends buyers to set up their account: the seller's fulfillment URL, as listed on the product.
   * Only http(s), because it becomes a form's `action`; `null` until set, and the buyer page says how to set it.
   */
  fulfillmentUrl: z.url({ protocol: /^https?$/ }).nullable(),
});

export type Settings = z.infer<typeof settingsSchema>;

export const defaultSettings: Settings = {
  sellerAccountId: '111122223333',
  enabledRegions: [MARKETPLACE_HOME_REGION],
  requireSignature: true,
  timestampWindowHours: 24,
  monthEndCutoffHours: 6,
  futureToleranceSeconds: 300,
  meterUsageWindowHours: 6,
  registrationTokenTtlSeconds: 4 * 3600,
  singleUseRegistrationTokens: false,
  finalMeteringGraceSeconds: 3600,
  licensePeriodStart: 'activation-hour',
  maxAllocationsPerRecord: 2500,
  identicalResendStatus: 'Success',
  bothCustomerIdentifiersError: 'ValidationException',
  doubleBilling: 'bill-twice',
  rejectSeveralProductsPerRequest: true,
  unknownLegacyCustomer: 'CustomerNotSubscribed',
  legacyResolveIncludesLicenseArn: false,
  entitlementEmptyPages: false,
  fulfillmentUrl: null,
};

export const settingsPatchSchema = settingsSchema.partial();
export type SettingsPatch = z.infer<typeof settingsPatchSchema>;
