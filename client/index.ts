/**
 * The usage client for the seller's app: record usage as it happens, and the client sums it per subscriber,
 * dimension, hour and tag set and sends it to `POST /usage`, SigV4-signed, retried, counted once. See
 * `docs/usage-client.md`.
 */
export {
  UsageClient,
  type CloseOptions,
  type FlushReport,
  type UsageClientOptions,
  type UsageRefusal,
} from './usage-client.ts';
export type { AggregatedUsageEvent, RecordedUsageEvent, UsageEvent } from './usage-events.ts';
export type { AwsCredentials, AwsCredentialsProvider, RetryOptions, UsageResult } from './usage-transport.ts';
export {
  CloseTimeoutError,
  InvalidUsageEventError,
  RefusedAfterLostAnswerError,
  RetryableUsageAnswerError,
  UnreadableUsageAnswerError,
  UsageCallFailedError,
  UsageCallRefusedError,
  UsageClientClosedError,
  UsageClientConfigError,
  UsageClientError,
  UsageNotDeliveredError,
  // The names before the `Error` suffix (deprecated).
  InvalidUsageEvent,
  RetryableUsageAnswer,
  UnreadableUsageAnswer,
  UsageCallFailed,
  UsageCallRefused,
  UsageClientClosed,
  UsageNotDelivered,
} from './errors.ts';
