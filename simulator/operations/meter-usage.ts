/**
 * `MeterUsage` (AMI and container products): one record from a buyer's instance, task or pod, identified here by the
 * caller's credentials (`Caller.instance`). Deduplicated per instance, product, dimension and hour (`DuplicateRequestException` for a
 * different quantity, the same `MeteringRecordId` for the same one); a reused `ClientToken` answers what it answered
 * before, or `IdempotencyConflictException` (409) when the parameters changed; `DryRun` checks without metering.
 */
import { z } from 'zod';
import { frameworkError } from '../../local/http/aws-json.ts';
import { meteringError } from '../marketplace-protocol.ts';
import { licenseArnFor } from '../marketplace.ts';
import { hourOf } from '../metering-ledger.ts';
import { instantOf, integerMember, parseInput, stringMember, timestampMember } from '../validation.ts';
import type { OperationContext } from './context.ts';
import { entitledLicense } from './register-usage.ts';
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

const requestInput = z.object({
  ProductCode: stringMember({ min: 1, max: 255, pattern: PRODUCT_CODE_PATTERN }),
  Timestamp: timestampMember(),
  UsageDimension: stringMember({ min: 1, max: 255 }),
  UsageQuantity: integerMember({ min: 0, max: MAX_QUANTITY }).optional(),
  DryRun: z.boolean().optional(),
  UsageAllocations: usageAllocationsMember.optional(),
  ClientToken: stringMember({ min: 1, max: 64 }).optional(),
});

export function meterUsage(rawInput: unknown, context: OperationContext) {
  const request = parseInput(requestInput, rawInput);
  const { ClientToken: clientToken, ...parameters } = request;
  const fingerprint = JSON.stringify(parameters);
  // A token is the caller's own: another caller's use of the same one is a request of its own.
  const tokenKey = clientToken === undefined ? undefined : `${context.caller.instance}|${clientToken}`;
  if (tokenKey !== undefined) {
    const previous = context.clientTokens.get(tokenKey);
    if (previous !== undefined) {
      if (previous.fingerprint === fingerprint) return previous.response;
      throw meteringError('IdempotencyConflictException', `ClientToken ${clientToken} was used with other parameters`);
    }
  }
  const response = meter(request, context);
  if (tokenKey !== undefined) context.clientTokens.set(tokenKey, { fingerprint, response });
  return response;
}

function meter(request: z.infer<typeof requestInput>, context: OperationContext) {
  const { settings, now } = context;
  const license = entitledLicense(request.ProductCode, context);
  const product = context.marketplace.product(request.ProductCode)!;
  if (!isMeteredDimension(product, request.UsageDimension)) {
    throw meteringError(
      'InvalidUsageDimensionException',
      `${request.UsageDimension} is not a metered dimension of ${product.code}`,
    );
  }
  const quantity = request.UsageQuantity ?? 0;
  const tagProblem = tagViolation(request.UsageAllocations);
  if (tagProblem !== undefined) throw meteringError('InvalidTagException', tagProblem);
  const allocationProblem = allocationViolation(quantity, request.UsageAllocations, settings.maxAllocationsPerRecord);
  if (allocationProblem !== undefined) throw meteringError('InvalidUsageAllocationsException', allocationProblem);
  const at = instantOf(request.Timestamp);
  const timeProblem = timestampViolation(at, now, { ...settings, windowHours: settings.meterUsageWindowHours });
  if (timeProblem !== undefined) throw meteringError('TimestampOutOfBoundsException', timeProblem);
  const hour = hourOf(at);
  const { instance } = context.caller;
  const dedupKey = `caller|${instance}|${product.code}|${request.UsageDimension}|${hour.toISOString()}`;
  const allocations = canonical(quantity, request.UsageAllocations);
  const duplicate = () =>
    meteringError(
      'DuplicateRequestException',
      `This instance already metered ${request.UsageDimension} for ${hour.toISOString()} with a different quantity`,
    );
  if (request.DryRun === true) {
    // Only a call that would have succeeded says so: one the ledger would refuse is refused as it would be.
    if (context.ledger.outcomeOf(dedupKey, { quantity, allocations }) === 'different') throw duplicate();
    throw frameworkError('DryRunOperation', 'Request would have succeeded, but the DryRun parameter was set', 412);
  }

  const { outcome, record } = context.ledger.meter(dedupKey, {
    operation: 'MeterUsage',
    requestId: context.requestId,
    receivedAt: now,
    productCode: product.code,
    licenseId: license.id,
    licenseArn: licenseArnFor(license, context.settings),
    customerIdentifier: license.customerIdentifier,
    customerAWSAccountId: license.customerAWSAccountId,
    dimension: request.UsageDimension,
    timestamp: at,
    hour,
    quantity,
    allocations,
    freeTrial: license.offerType === 'free-trial',
  });
  if (outcome === 'different') throw duplicate();
  return { MeteringRecordId: record.meteringRecordId };
}
