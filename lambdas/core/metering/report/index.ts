/** The usage report: what was recorded, billed, rejected and expired, per subscriber, dimension and hour, reconciled. */
export {
  usageReport,
  UsageReportOptionsError,
  type BucketAnomaly,
  type UnconfirmedSend,
  type UsageFigures,
  type UsageReport,
  type UsageReportOptions,
  type UsageReportRow,
} from './usage-report.ts';
