/** How long every log group of the stack keeps its lines: functions, API access and API execution logs alike. */
import { RetentionDays } from 'aws-cdk-lib/aws-logs';

/** Long enough to look into a buyer's complaint about last month's sign-up; short enough not to hoard personal data. */
export const LOG_RETENTION = RetentionDays.THREE_MONTHS;
