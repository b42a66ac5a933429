/**
 * What a failed `BatchMeterUsage` call means for its records. Only errors that a record can cause are worth bisecting
 * for; an error about the caller (the API disabled in the region, bad credentials, an error this code does not know)
 * would reject every record alone just as it rejected the batch, so those records are left pending instead of being
 * quarantined for something they did not do.
 */
import { MarketplaceMeteringServiceException } from '@aws-sdk/client-marketplace-metering';

export type FailureKind =
  /** Over the rate limit: retried after a pause. */
  | 'throttled'
  /** The service failed or no answer came (a dropped connection may still have been processed): retried. */
  | 'transient'
  /** The whole batch was refused because of (at least) one of its records: bisected to find which. */
  | 'record-rejected'
  /** Refused for a reason no record can cause: nothing more is sent, and the records stay pending. */
  | 'caller-refused';

export interface CallFailure {
  readonly kind: FailureKind;
  /** The exception's name, or what kind of error came instead of an answer. */
  readonly reason: string;
  /** The service's id for the failed call, when it answered. */
  readonly requestId: string | undefined;
}

/** The whole-batch rejections `BatchMeterUsage` documents for bad records, and the model's validation error. */
const RECORD_REJECTIONS: ReadonlySet<string> = new Set([
  'TimestampOutOfBoundsException',
  'InvalidUsageDimensionException',
  'InvalidLicenseException',
  'InvalidTagException',
  'InvalidUsageAllocationsException',
  'InvalidProductCodeException',
  'InvalidCustomerIdentifierException',
  'ValidationException',
]);

export function classifyFailure(error: unknown): CallFailure {
  if (!(error instanceof MarketplaceMeteringServiceException)) {
    // No service answer: a network error, a dropped connection, a timeout, a body that was not the service's JSON.
    return { kind: 'transient', reason: describe(error), requestId: undefined };
  }
  const { httpStatusCode = 0, requestId } = error.$metadata;
  const answer = (kind: FailureKind): CallFailure => ({ kind, reason: error.name, requestId });
  if (error.name === 'ThrottlingException' || httpStatusCode === 429) return answer('throttled');
  if (error.$fault === 'server' || httpStatusCode >= 500) return answer('transient');
  return answer(RECORD_REJECTIONS.has(error.name) ? 'record-rejected' : 'caller-refused');
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${error.name} (${code})` : error.name;
}
