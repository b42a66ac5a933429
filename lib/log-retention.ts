/**
 * How long every log group of the stack keeps its lines (functions, API access and API execution logs alike), and what
 * becomes of the log groups and keys when the stack goes.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';

/** Long enough to look into a buyer's complaint about last month's sign-up; short enough not to hoard personal data. */
export const LOG_RETENTION = RetentionDays.THREE_MONTHS;

/**
 * Log groups and encryption keys outlive the stack (`cdk destroy`, a replacement), so what they hold can still be
 * read; but a first deploy that rolls back takes away the ones it made, which hold nothing yet
 * (CloudFormation's `RetainExceptOnCreate`).
 */
export const KEPT_ONCE_DEPLOYED = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE;
