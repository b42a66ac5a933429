/**
 * `BatchMeterUsage`: up to 25 hourly records for one product (legacy: `ProductCode` + `CustomerIdentifier`, or the
 * buyer's account) or for licenses (Concurrent Agreements: `LicenseArn` + `CustomerAWSAccountId`, no `ProductCode`).
 *
 * A request passes the batch rules in order (any failure rejects the whole batch, as AWS does); then each record gets
 * its own status: `CustomerNotSubscribed`, `DuplicateRecord`, or `Success` with a `MeteringRecordId` that an identical
 * resend gets again.
 *
 * A record that carries a license-model `LicenseArn` in a request with a `ProductCode` is, as AWS documents, billed
 * twice: once under the product and once under the license (the `doubleBilling` setting can refuse it instead). Its
 * answer is that of the `ProductCode` billing, the identity the request was sent under. The ARN a migrating legacy
 * product answers (`legacyResolveIncludesLicenseArn`) names the same customer as its `CustomerIdentifier`: one billing.
 */
import { z } from 'zod';
import { validationError, type AwsError } from '../../local/http/aws-json.ts';
import { meteringError } from '../marketplace-protocol.ts';
import { doubleBillingWarning } from '../double-billing.ts';
import { licenseArnFor, type License, type Product } from '../marketplace.ts';
import { hourOf, type MeteringOutcome, type RecordStatus } from '../metering-ledger.ts';
import { instantOf, integerMember, listMember, parseInput, stringMember, timestampMember } from '../validation.ts';
import type { Settings } from '../settings.ts';
import type { OperationContext } from './context.ts';
import {
  allocationViolation,
  canonical,
  isMeteredDimension,
  MAX_QUANTITY,
  PRODUCT_CODE_PATTERN,
  tagViolation,
  timestampViolation,
  usageAllocationsMember,
} from './usage-checks.ts';

/** The model's pattern for `LicenseArn`. */
const LICENSE_ARN_PATTERN =
  /^arn:aws[a-zA-Z-]*:[A-Za-z0-9][A-Za-z0-9_/.-]{0,62}:[A-Za-z0-9_/.-]{0,63}:[A-Za-z0-9_/.-]{0,63}:[A-Za-z0-9][A-Za-z0-9:_/+=,@.-]{0,1023}$/;

const usageRecordInput = z.object({
  Timestamp: timestampMember(),
  CustomerIdentifier: stringMember({ max: 255 }).optional(),
  CustomerAWSAccountId: stringMember({ min: 1, max: 255, pattern: /^[0-9]+$/ }).optional(),
  LicenseArn: stringMember({ pattern: LICENSE_ARN_PATTERN }).optional(),
  Dimension: stringMember({ min: 1, max: 255 }),
  Quantity: integerMember({ min: 0, max: MAX_QUANTITY }).optional(),
  UsageAllocations: usageAllocationsMember.optional(),
});

const requestInput = z.object({
  UsageRecords: listMember(usageRecordInput, { max: 25 }),
  ProductCode: stringMember({ max: 255, pattern: PRODUCT_CODE_PATTERN }).optional(),
});

type UsageRecordInput = z.infer<typeof usageRecordInput>;
type RequestInput = z.infer<typeof requestInput>;

/** A record with what the simulator knows of it: when, which product, which buyer's license. */
interface BatchRecord {
  readonly position: number;
  readonly input: UsageRecordInput;
  readonly at: Date;
  readonly product: Product | undefined;
  readonly license: License | undefined;
}

interface Batch {
  readonly request: RequestInput;
  readonly records: readonly BatchRecord[];
  readonly context: OperationContext;
}

/** A whole-batch rule: a named unit that rejects the entire request, or lets it through. */
export interface BatchRule {
  readonly id: string;
  readonly check: (batch: Batch) => AwsError | undefined;
}

const firstViolation = (
  batch: Batch,
  violation: (record: BatchRecord) => string | undefined,
  error: (message: string) => AwsError,
): AwsError | undefined => {
  for (const record of batch.records) {
    const message = violation(record);
    if (message !== undefined) return error(`Usage record ${record.position}: ${message}`);
  }
  return undefined;
};

const isLegacyRequest = (batch: Batch) => batch.request.ProductCode !== undefined;

/** A record sent with `ProductCode` that also names a license-model license: AWS bills it under both. */
const isDoubleBilled = (record: BatchRecord, batch: Batch) =>
  isLegacyRequest(batch) && record.input.LicenseArn !== undefined && record.license?.identityModel === 'license';

/** The batch rules, in the order AWS applies them. */
export const batchRules: readonly BatchRule[] = [
  {
    id: 'customer-identifier-present',
    check: (batch) =>
      firstViolation(
        batch,
        ({ input }) =>
          input.CustomerIdentifier === undefined && input.CustomerAWSAccountId === undefined
            ? 'one of CustomerIdentifier and CustomerAWSAccountId is required'
            : undefined,
        validationError,
      ),
  },
  {
    id: 'customer-identifiers-exclusive',
    check: (batch) =>
      firstViolation(
        batch,
        ({ input }) =>
          input.CustomerIdentifier !== undefined && input.CustomerAWSAccountId !== undefined
            ? 'CustomerIdentifier and CustomerAWSAccountId are mutually exclusive'
            : undefined,
        (message) =>
          batch.context.settings.bothCustomerIdentifiersError === 'ValidationException'
            ? validationError(message)
            : meteringError('InvalidCustomerIdentifierException', message),
      ),
  },
  {
    id: 'identity-model',
    check: (batch) =>
      firstViolation(
        batch,
        ({ input, license }) => {
          if (isLegacyRequest(batch) && input.LicenseArn !== undefined) {
            // A migrating legacy product's ARN names the customer its ProductCode records bill: not billed twice.
            if (batch.context.settings.doubleBilling === 'refuse' && license?.identityModel !== 'legacy') {
              return 'LicenseArn must not be sent with a ProductCode (a customer-hour metered both ways is billed twice)';
            }
          } else if (isLegacyRequest(batch)) {
            return undefined;
          } else if (input.LicenseArn === undefined) {
            return 'LicenseArn is required when the request has no ProductCode';
          }
          return input.CustomerAWSAccountId === undefined
            ? 'a record with a LicenseArn needs CustomerAWSAccountId'
            : undefined;
        },
        validationError,
      ),
  },
  {
    id: 'known-product-code',
    check: (batch) => {
      const code = batch.request.ProductCode;
      return code !== undefined && batch.context.marketplace.product(code) === undefined
        ? meteringError('InvalidProductCodeException', `Product code ${code} is not a published product of this seller`)
        : undefined;
    },
  },
  {
    id: 'one-product-per-request',
    check: (batch) => {
      const products = new Set(batch.records.flatMap(({ product }) => (product === undefined ? [] : [product.code])));
      return products.size > 1 && batch.context.settings.rejectSeveralProductsPerRequest
        ? validationError(`A request covers one product only; these records are for ${[...products].join(', ')}`)
        : undefined;
    },
  },
  {
    id: 'known-dimension',
    check: (batch) =>
      firstViolation(
        batch,
        ({ input, product }) =>
          product !== undefined && !isMeteredDimension(product, input.Dimension)
            ? `${input.Dimension} is not a metered dimension of product ${product.code}`
            : undefined,
        (message) => meteringError('InvalidUsageDimensionException', message),
      ),
  },
  {
    id: 'valid-tags',
    check: (batch) =>
      firstViolation(
        batch,
        ({ input }) => tagViolation(input.UsageAllocations),
        (message) => meteringError('InvalidTagException', message),
      ),
  },
  {
    id: 'valid-allocations',
    check: (batch) =>
      firstViolation(
        batch,
        ({ input }) =>
          allocationViolation(
            input.Quantity ?? 0,
            input.UsageAllocations,
            batch.context.settings.maxAllocationsPerRecord,
          ),
        (message) => meteringError('InvalidUsageAllocationsException', message),
      ),
  },
  {
    id: 'timestamp-window',
    check: (batch) => {
      const { now, settings } = batch.context;
      return firstViolation(
        batch,
        ({ at }) => timestampViolation(at, now, { ...settings, windowHours: settings.timestampWindowHours }),
        (message) => meteringError('TimestampOutOfBoundsException', message),
      );
    },
  },
  {
    id: 'license-belongs-to-customer',
    check: (batch) =>
      firstViolation(
        batch,
        ({ input, license }) => {
          if (input.LicenseArn === undefined) return undefined;
          if (license === undefined) return `LicenseArn ${input.LicenseArn} is not a license of this seller`;
          const { ProductCode } = batch.request;
          if (ProductCode !== undefined && license.productCode !== ProductCode) {
            return `LicenseArn ${input.LicenseArn} is a license of product ${license.productCode}, not ${ProductCode}`;
          }
          return license.customerAWSAccountId === input.CustomerAWSAccountId
            ? undefined
            : `LicenseArn ${input.LicenseArn} does not belong to account ${input.CustomerAWSAccountId}`;
        },
        (message) => meteringError('InvalidLicenseException', message),
      ),
  },
  {
    id: 'license-active-period',
    check: (batch) =>
      firstViolation(
        batch,
        ({ input, license, at }) =>
          input.LicenseArn === undefined || license === undefined
            ? undefined
            : activePeriodViolation(license, at, batch.context.settings),
        (message) => meteringError('InvalidLicenseException', message),
      ),
  },
  {
    id: 'known-legacy-customer',
    check: (batch) =>
      isLegacyRequest(batch) && batch.context.settings.unknownLegacyCustomer === 'InvalidCustomerIdentifierException'
        ? firstViolation(
            batch,
            ({ license, product }) =>
              product !== undefined && license === undefined
                ? 'the customer is not a buyer of this product'
                : undefined,
            (message) => meteringError('InvalidCustomerIdentifierException', message),
          )
        : undefined,
  },
];

/** Why a record's usage time falls outside the license's active period (from its start, as set, to its end). */
function activePeriodViolation(license: License, at: Date, settings: Settings): string | undefined {
  if (license.activatedAt === undefined || license.failedAt !== undefined) return undefined;
  const start = settings.licensePeriodStart === 'instant' ? license.activatedAt : hourOf(license.activatedAt);
  if (at < start) {
    // The bound enforced, not the activation: from the activation's hour, a record of that hour's start is taken.
    return `usage at ${at.toISOString()} is before license ${license.id} started (usage is taken from ${start.toISOString()})`;
  }
  if (license.endedAt !== undefined && at > license.endedAt) {
    return `usage at ${at.toISOString()} is after license ${license.id} ended (${license.endedAt.toISOString()})`;
  }
  return undefined;
}

export function batchMeterUsage(rawInput: unknown, context: OperationContext) {
  const request = parseInput(requestInput, rawInput);
  const batch: Batch = { request, context, records: request.UsageRecords.map((input, index) => resolve(input, index)) };
  for (const rule of batchRules) {
    const error = rule.check(batch);
    if (error !== undefined) throw error;
  }
  const unprocessed = context.pickUnprocessed(batch.records.length);
  return {
    Results: batch.records
      .filter((record) => !unprocessed[record.position - 1])
      .map((record) => ({ UsageRecord: record.input, ...meter(record, batch) })),
    UnprocessedRecords: batch.records
      .filter((record) => unprocessed[record.position - 1])
      .map((record) => record.input),
  };

  function resolve(input: UsageRecordInput, index: number): BatchRecord {
    const { marketplace } = context;
    const at = instantOf(input.Timestamp);
    if (request.ProductCode !== undefined) {
      const product = marketplace.product(request.ProductCode);
      const license =
        product === undefined
          ? undefined
          : input.LicenseArn !== undefined
            ? marketplace.licenseByArn(input.LicenseArn, context.settings)
            : marketplace.legacyCustomer(
                product.code,
                {
                  ...(input.CustomerIdentifier !== undefined ? { customerIdentifier: input.CustomerIdentifier } : {}),
                  ...(input.CustomerAWSAccountId !== undefined ? { accountId: input.CustomerAWSAccountId } : {}),
                },
                at,
              );
      return { position: index + 1, input, at, product, license };
    }
    const license =
      input.LicenseArn === undefined ? undefined : marketplace.licenseByArn(input.LicenseArn, context.settings);
    const product = license === undefined ? undefined : marketplace.product(license.productCode);
    return { position: index + 1, input, at, product, license };
  }
}

/** The per-record outcome, once the batch as a whole has been accepted. */
function meter(record: BatchRecord, batch: Batch): { Status: RecordStatus; MeteringRecordId?: string } {
  const { context } = batch;
  const { input, license, product, at } = record;
  const quantity = input.Quantity ?? 0;
  const log = (status: RecordStatus, meteringRecordId?: string) => {
    context.ledger.logResult({
      requestId: context.requestId,
      receivedAt: context.now,
      status,
      meteringRecordId,
      productCode: product?.code,
      licenseId: license?.id,
      dimension: input.Dimension,
      timestamp: at,
      quantity,
    });
    return meteringRecordId === undefined ? { Status: status } : { Status: status, MeteringRecordId: meteringRecordId };
  };

  if (license === undefined || product === undefined || !isSubscribed(license, at, context)) {
    return log('CustomerNotSubscribed');
  }
  const hour = hourOf(at);
  // A legacy customer keeps its identifier when it subscribes again (a new license): its hours stay one customer's,
  // whether metered by CustomerIdentifier, by account id or (migrating to Concurrent Agreements) by LicenseArn.
  const identities =
    isLegacyRequest(batch) || license.identityModel === 'legacy'
      ? [
          `product:${product.code}|customer:${license.customerIdentifier ?? license.id}`,
          ...(isDoubleBilled(record, batch) ? [`license:${input.LicenseArn}`] : []),
        ]
      : [`license:${license.licenseArn ?? ''}`];
  const outcomes = identities.map((identity) =>
    context.ledger.meter([identity, input.Dimension, hour.toISOString()].join('|'), {
      operation: 'BatchMeterUsage',
      requestId: context.requestId,
      receivedAt: context.now,
      productCode: product.code,
      licenseId: license.id,
      licenseArn: licenseArnFor(license, context.settings),
      customerIdentifier: license.customerIdentifier,
      customerAWSAccountId: license.customerAWSAccountId,
      dimension: input.Dimension,
      timestamp: at,
      hour,
      quantity,
      allocations: canonical(quantity, input.UsageAllocations),
      freeTrial: license.offerType === 'free-trial',
    }),
  );
  const [answered, byLicenseArn] = outcomes as [MeteringOutcome, MeteringOutcome | undefined];
  if (byLicenseArn !== undefined && input.LicenseArn !== undefined && outcomes.some((o) => o.outcome === 'billed')) {
    context.ledger.flagDoubleBilling(
      doubleBillingWarning({
        requestId: context.requestId,
        receivedAt: context.now,
        recordPosition: record.position,
        productCode: product.code,
        licenseId: license.id,
        licenseArn: input.LicenseArn,
        customerAWSAccountId: license.customerAWSAccountId,
        dimension: input.Dimension,
        hour,
        meteringRecordIds: [answered.record.meteringRecordId, byLicenseArn.record.meteringRecordId],
      }),
    );
  }
  const { outcome, record: billed } = answered;
  if (outcome === 'different') return log('DuplicateRecord');
  if (outcome === 'identical' && context.settings.identicalResendStatus === 'DuplicateRecord') {
    return log('DuplicateRecord');
  }
  return log('Success', billed.meteringRecordId);
}

/**
 * Whether Marketplace honours a record for this license now: live, or ended less than the final-metering grace ago,
 * and (legacy records, which cannot be rejected as an invalid license) for a time inside the license's active period.
 */
function isSubscribed(license: License, at: Date, context: OperationContext): boolean {
  return (
    context.marketplace.isLive(license, context.now) &&
    activePeriodViolation(license, at, context.settings) === undefined
  );
}
