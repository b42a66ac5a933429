/**
 * Usage metering on AWS: the seller's app records usage through `POST /usage` (IAM-authorized, see `api.ts`) into
 * hourly buckets, and the metering function sends every closed hour to Marketplace with `BatchMeterUsage`: on a
 * schedule each hour, and at once for a subscriber whose subscription is ending (its final flush).
 */
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { Metric, type Dashboard } from 'aws-cdk-lib/aws-cloudwatch';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Grant } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { alarmWhenAbove, crashAlarm } from './alarms.ts';
import { usageRoute, type ApiRoute } from './api-routes.ts';
import type { Config } from './config.ts';
import { newDeadLetterQueue } from './dead-letter-queue.ts';
import { finalMeteringGraceVariable, meteringVariables, productsVariable } from './function-environment.ts';
import { ProjectFunction } from './functions.ts';
import { MeteringDashboard } from './metering-dashboard.ts';
import { meteringMetricNames } from './metering-metrics.ts';
import { grantOnItems, subscribersItemPrefixes, usageItemPrefixes } from './item-grants.ts';
import type { SellerEvents } from './seller-events.ts';

export interface MeteringProps {
  readonly config: Config;
  readonly subscribers: TableV2;
  readonly usage: TableV2;
  readonly sellerEvents: SellerEvents;
}

/** The sparse indexes the metering run reads (`lib/tables.ts`): unsettled buckets, and subscribers that may be billed. */
const PENDING_INDEX = 'pending';
const LIVE_INDEX = 'live';

/**
 * Fifteen minutes, Lambda's longest: at the quota's 250 records a second a run meters some 200,000 buckets, and
 * whatever a run does not reach stays pending for the next one.
 */
const METERING_TIMEOUT = Duration.minutes(15);

export class Metering extends Construct {
  /** The function behind `POST /usage`. */
  readonly routeFunctions: ReadonlyMap<ApiRoute, ProjectFunction>;
  /** Metering runs (scheduled, or a final flush) that failed after Lambda's retries. */
  readonly deadLetterQueue: Queue;
  /** The CloudWatch namespace of the metering run's metrics: one per stack, so that two deployments never mix. */
  readonly metricsNamespace: string;
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: MeteringProps) {
    super(scope, id);
    this.metricsNamespace = `SaasMarketplace/${Stack.of(this).stackName}`;
    const recorder = this.usageFunction(props);
    this.routeFunctions = new Map([[usageRoute, recorder]]);
    const { metering, deadLetterQueue } = this.meteringFunction(props);
    this.deadLetterQueue = deadLetterQueue;
    this.dashboard = new MeteringDashboard(this, 'Dashboard', {
      metering: this,
      functions: [recorder, metering],
      deadLetterQueue,
      acceptanceWindowHours: props.config.metering.acceptanceWindowHours,
    }).dashboard;
  }

  private environment({ config, subscribers, usage }: MeteringProps): Record<string, string> {
    return {
      SUBSCRIBERS_TABLE: subscribers.tableName,
      USAGE_TABLE: usage.tableName,
      ...productsVariable(config),
      ...meteringVariables(config),
      ...finalMeteringGraceVariable(config),
    };
  }

  private usageFunction(props: MeteringProps): ProjectFunction {
    const { subscribers, usage } = props;
    const recorder = new ProjectFunction(this, 'Usage', {
      entry: usageRoute.entry,
      serviceName: usageRoute.functionName,
      description: "Records the seller app's usage events into hourly buckets",
      memorySize: 512,
      timeout: Duration.seconds(10),
      environment: this.environment(props),
    });
    grantOnItems(recorder, subscribers, ['dynamodb:BatchGetItem'], [subscribersItemPrefixes.subscriber]);
    // One transaction per call; DynamoDB authorizes its items one by one, as the UpdateItem and PutItem they are.
    grantOnItems(recorder, usage, ['dynamodb:UpdateItem'], [usageItemPrefixes.bucket]);
    grantOnItems(recorder, usage, ['dynamodb:PutItem', 'dynamodb:BatchGetItem'], [usageItemPrefixes.usageEvent]);
    crashAlarm(recorder, "the seller's app");
    return recorder;
  }

  private meteringFunction(props: MeteringProps): { metering: ProjectFunction; deadLetterQueue: Queue } {
    const { config, subscribers, usage, sellerEvents } = props;
    const metering = new ProjectFunction(this, 'Metering', {
      entry: 'lambdas/metering/metering.ts',
      serviceName: 'metering',
      description:
        'Sends closed hours of usage to AWS Marketplace (BatchMeterUsage), and final usage of ending subscribers',
      // Memory buys CPU for signing and JSON at 250 records a second; the buckets of one run are held in memory.
      memorySize: 512,
      timeout: METERING_TIMEOUT,
      // One run at a time: Marketplace's quota (10 calls a second) is per account, so two runs would only throttle
      // each other. A final flush arriving during the hourly run waits in Lambda's queue for it (runs are minutes).
      reservedConcurrentExecutions: 1,
      environment: {
        ...this.environment(props),
        MARKETPLACE_REGION: config.marketplaceRegion,
        METRICS_NAMESPACE: this.metricsNamespace,
      },
    });
    Grant.addToPrincipal({
      grantee: metering,
      actions: ['dynamodb:Query'],
      resourceArns: [`${usage.tableArn}/index/${PENDING_INDEX}`, `${subscribers.tableArn}/index/${LIVE_INDEX}`],
    });
    grantOnItems(
      metering,
      usage,
      ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
      [usageItemPrefixes.bucket],
    );
    grantOnItems(metering, subscribers, ['dynamodb:GetItem'], [subscribersItemPrefixes.subscriber]);
    Grant.addToPrincipal({ grantee: metering, actions: ['aws-marketplace:BatchMeterUsage'], resourceArns: ['*'] });
    Validations.of(metering).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'aws-marketplace:BatchMeterUsage supports no resource-level permissions: the Service Authorization ' +
        'Reference lists no resource type for it, so "*" is the only resource it can be granted on.',
    });

    const deadLetterQueue = newDeadLetterQueue(this, 'DeadLetterQueue', {
      catches: 'the metering function (its on-failure destination) and the rules that invoke it',
      alarmName: 'metering-dead-letters',
      alarmDescription:
        'A metering run (the hourly schedule or the final flush of an ending subscriber) failed three times. ' +
        'Nothing is lost: unsent usage stays pending for the next run. See the metering log group for the cause; a ' +
        "final flush that keeps failing risks missing the hour Marketplace accepts a cancelled subscriber's usage.",
    });
    metering.lambda.configureAsyncInvoke({
      onFailure: new SqsDestination(deadLetterQueue),
      // A run's failure is retried well before the next hour; a flush older than the final-metering window is moot.
      maxEventAge: Duration.hours(1),
      retryAttempts: 2,
    });
    // What EventBridge cannot hand to Lambda waits beside the failed runs, rather than being dropped.
    const target = () =>
      new LambdaFunction(metering.lambda, { deadLetterQueue, retryAttempts: 3, maxEventAge: Duration.hours(1) });
    new Rule(this, 'Schedule', {
      description: `Meters every closed hour of usage, at minute ${config.metering.scheduleMinute} of each hour`,
      schedule: Schedule.cron({ minute: String(config.metering.scheduleMinute) }),
      targets: [target()],
    });
    sellerEvents.onSubscriberEnding('FinalMeteringFlush', target());
    alarmWhenAbove(metering, 'FailedAlarm', {
      name: 'metering-failed',
      description:
        'A metering run failed (see the metering log group). Its buckets stay pending and the next run retries ' +
        `them, but usage not sent within the acceptance window (${config.metering.acceptanceWindowHours} h) can no ` +
        'longer be billed.',
      metric: metering.lambda.metricErrors({ statistic: 'Sum' }),
      threshold: 0,
    });
    alarmWhenAbove(metering, 'RejectedAlarm', {
      name: 'metering-rejected',
      description:
        'Marketplace refused usage records (or a bucket named an unknown subscriber): that usage will not be ' +
        'billed as it stands. The reason is on each bucket (npm run report, or the RecordsRejected metric by Reason ' +
        'on the metering dashboard); CustomerNotSubscribed means the buyer was not subscribed for that hour.',
      metric: this.metric(meteringMetricNames.rejected, 'Sum'),
      threshold: 0,
    });
    const halfWindowHours = config.metering.acceptanceWindowHours / 2;
    alarmWhenAbove(metering, 'BehindAlarm', {
      name: 'metering-behind',
      description:
        `Usage has waited more than ${halfWindowHours} hours to be billed: runs keep failing to send it (see the ` +
        'metering log group: throttling, Marketplace errors, a missing permission). Marketplace accepts a record ' +
        `for ${config.metering.acceptanceWindowHours} hours after its hour; after that the usage expires unbilled.`,
      metric: this.metric(meteringMetricNames.oldestPendingAge, 'Maximum'),
      threshold: Duration.hours(halfWindowHours).toSeconds(),
    });
    return { metering, deadLetterQueue };
  }

  /** One of the run's metrics, per hour (the schedule's period). */
  metric(name: string, statistic: 'Sum' | 'Maximum'): Metric {
    return new Metric({
      namespace: this.metricsNamespace,
      metricName: name,
      dimensionsMap: { service: 'metering' },
      statistic,
      period: Duration.hours(1),
    });
  }
}
