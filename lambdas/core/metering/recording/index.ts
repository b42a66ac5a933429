/**
 * Recording usage (`POST /usage`): events checked, summed per bucket and written in one transaction, each event id
 * counted once. See `usage-recorder.ts`.
 */
export {
  recordUsage,
  UsageBatchTooLargeError,
  UsageRecordingIncompleteError,
  type UsageRecorderDependencies,
} from './usage-recorder.ts';
export { UsageOutcomeUnknownError } from './dynamodb-attempts.ts';
export { MAX_USAGE_EVENTS_PER_CALL, type UsageEventInput, type UsageEventResult } from './usage-event.ts';
export { eventKeyOf } from './usage-write-plan.ts';
