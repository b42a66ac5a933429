/**
 * The metering run: due buckets found, frozen, batched, sent with `BatchMeterUsage` at the quota's pace and settled,
 * each billed exactly once. See `metering-run.ts`.
 */
export {
  meterUsage,
  type MeteringDependencies,
  type MeteringLogger,
  type MeteringRunOptions,
  type MeteringRunSummary,
  type MeteringScope,
  type PlannedBatch,
  type ProductDimensions,
} from './metering-run.ts';
export { BucketLedger } from './bucket-ledger.ts';
export { forEachConcurrently } from './concurrently.ts';
