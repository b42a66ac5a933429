/**
 * The metering dashboard: what was billed, refused and left pending each hour, how close the oldest pending usage is
 * to the end of Marketplace's acceptance window, and the health of the functions and the dead-letter queue.
 */
import { Duration } from 'aws-cdk-lib';
import {
  Dashboard,
  GraphWidget,
  MathExpression,
  TextWidget,
  type HorizontalAnnotation,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { ProjectFunction } from './functions.ts';
import type { Metering } from './metering.ts';
import { METERING_METRICS as names } from '../contracts/index.ts';

export interface MeteringDashboardProps {
  readonly metering: Metering;
  readonly functions: readonly ProjectFunction[];
  readonly deadLetterQueue: Queue;
  readonly acceptanceWindowHours: number;
}

export class MeteringDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: MeteringDashboardProps) {
    super(scope, id);
    const { metering } = props;
    const hourly = Duration.hours(1);
    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.days(2) });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          '## Usage metering\nRecords per hour. Reconcile with `npm run report`; request ids in the metering log ' +
          "group match CloudTrail's BatchMeterUsage events.",
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Records billed, rejected, expired',
        left: [
          metering.metric(names.billed, 'Sum'),
          metering.metric(names.rejected, 'Sum'),
          metering.metric(names.expired, 'Sum'),
        ],
        width: 12,
      }),
      new GraphWidget({
        title: 'Rejected records by reason',
        left: [
          new MathExpression({
            expression: `SEARCH('{${metering.metricsNamespace},Reason,service} MetricName="${names.rejected}"', 'Sum', 3600)`,
            label: '',
            period: hourly,
          }),
        ],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Oldest pending usage (seconds)',
        left: [metering.metric(names.oldestPendingAge, 'Maximum')],
        leftAnnotations: [
          {
            label: 'acceptance window ends',
            value: Duration.hours(props.acceptanceWindowHours).toSeconds(),
          } satisfies HorizontalAnnotation,
        ],
        width: 8,
      }),
      new GraphWidget({
        title: 'Pending after each run',
        left: [metering.metric(names.pending, 'Maximum')],
        width: 8,
      }),
      new GraphWidget({
        title: 'BatchMeterUsage retries and throttles',
        left: [metering.metric(names.retries, 'Sum'), metering.metric(names.throttles, 'Sum')],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Final-metering deadlines missed, and sends never confirmed (records; each one is alarmed)',
        left: [metering.metric(names.finalDeadlineMissed, 'Sum'), metering.metric(names.unconfirmedSends, 'Sum')],
        width: 24,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Function errors',
        left: props.functions.map((projectFunction) =>
          projectFunction.lambda.metricErrors({ statistic: 'Sum', period: hourly, label: projectFunction.serviceName }),
        ),
        width: 8,
      }),
      new GraphWidget({
        title: 'Function duration (max)',
        left: props.functions.map((projectFunction) =>
          projectFunction.lambda.metricDuration({
            statistic: 'Maximum',
            period: hourly,
            label: projectFunction.serviceName,
          }),
        ),
        width: 8,
      }),
      new GraphWidget({
        title: 'Failed metering runs waiting (dead-letter queue)',
        left: [
          props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: hourly }),
        ],
        width: 8,
      }),
    );
  }
}
