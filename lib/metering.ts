/**
 * Usage metering on AWS: the seller's app records usage through `POST /usage` (IAM-authorized, see `api.ts`) into
 * hourly buckets, and two functions send them to Marketplace with `BatchMeterUsage`: the metering function every
 * closed hour, each hour; the final-metering function every ending subscriber's usage as it comes due, each minute
 * (and at once on `Subscriber Ending`), so that a cancelled subscriber's usage is billed inside the final-metering
 * window whatever the hourly run is doing.
 */
import { Aws, Duration, Fn, Stack, Validations } from 'aws-cdk-lib';
import { Metric, type Dashboard } from 'aws-cdk-lib/aws-cloudwatch';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction, SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import { Grant } from 'aws-cdk-lib/aws-iam';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import {
  Choice,
  Condition,
  DefinitionBody,
  JitterType,
  LogLevel,
  StateMachine,
  Succeed,
  TaskInput,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { alarmWhenAbove, crashAlarm } from './alarms.ts';
import { usageRoute, type ApiRoute } from './api-routes.ts';
import type { Config } from './config.ts';
import { newDeadLetterQueue } from './dead-letter-queue.ts';
import { finalMeteringGraceVariable, meteringVariables, productsVariable } from './function-environment.ts';
import { ProjectFunction } from './functions.ts';
import { KEPT_ONCE_DEPLOYED, LOG_RETENTION } from './log-retention.ts';
import { MeteringDashboard } from './metering-dashboard.ts';
import { grantOnItems } from './item-grants.ts';
import type { SellerEvents } from './seller-events.ts';
import {
  ENDING_INDEX,
  LIVE_INDEX,
  METERING_FUNCTION_TIMEOUT_SECONDS,
  METERING_METRICS,
  METERING_METRICS_SERVICE,
  PENDING_INDEX,
  subscribersItemPrefixes,
  usageItemPrefixes,
} from '../contracts/index.ts';

export interface MeteringProps {
  readonly config: Config;
  readonly subscribers: TableV2;
  readonly usage: TableV2;
  readonly sellerEvents: SellerEvents;
}

/**
 * The concurrency each metering function reserves: one run at a time. Lambda refuses a reservation that leaves the
 * account less unreserved concurrency than its minimum (100, or the whole quota of a new account below it), which
 * `npm run preflight` checks before a first deploy.
 */
export const METERING_RESERVED_CONCURRENCY = { hourly: 1, final: 1 } as const;

/**
 * Fifteen minutes, Lambda's longest: a run works to a time budget inside it, and hands over what it did not reach.
 */
const METERING_TIMEOUT = Duration.seconds(METERING_FUNCTION_TIMEOUT_SECONDS.hourly);

/** A final-metering run sends the few records of the subscribers ending now: seconds, well inside its minutes. */
const FINAL_METERING_TIMEOUT = Duration.seconds(METERING_FUNCTION_TIMEOUT_SECONDS.final);

export class Metering extends Construct {
  /** The function behind `POST /usage`. */
  readonly routeFunctions: ReadonlyMap<ApiRoute, ProjectFunction>;
  /** Metering runs (hourly, or final metering) that failed after Lambda's retries. */
  readonly deadLetterQueue: Queue;
  /** The hourly run: the metering function, invoked again as long as a run hands over. */
  readonly runStateMachine: StateMachine;
  /** The CloudWatch namespace of the metering run's metrics: one per stack, so that two deployments never mix. */
  readonly metricsNamespace: string;
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: MeteringProps) {
    super(scope, id);
    this.metricsNamespace = `SaasMarketplace/${Stack.of(this).stackName}`;
    const recorder = this.usageFunction(props);
    this.routeFunctions = new Map([[usageRoute, recorder]]);
    const deadLetterQueue = newDeadLetterQueue(this, 'DeadLetterQueue', {
      catches: 'the metering functions (their on-failure destination) and the rules that invoke them',
      alarmName: 'metering-dead-letters',
      alarmDescription:
        "A final-metering run failed (it is not retried: the next minute's run does the same work), or EventBridge " +
        'could not start a metering run. Nothing is lost: unsent usage stays pending for the next run. The ' +
        'messages hold the error; see the metering and final-metering log groups for the cause.',
    });
    this.deadLetterQueue = deadLetterQueue;
    const { metering, stateMachine } = this.meteringFunction(props, deadLetterQueue);
    this.runStateMachine = stateMachine;
    const finalMetering = this.finalMeteringFunction(props, deadLetterQueue);
    this.metricAlarms(props.config, metering);
    this.dashboard = new MeteringDashboard(this, 'Dashboard', {
      metering: this,
      functions: [recorder, metering, finalMetering],
      deadLetterQueue,
      acceptanceWindowHours: props.config.metering.acceptanceWindowHours,
    }).dashboard;
  }

  private environment({ config, subscribers, usage }: MeteringProps) {
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
      timeout: Duration.seconds(usageRoute.timeoutSeconds),
      tracing: props.config.observability.tracing,
      failuresGo:
        "API Gateway invokes it synchronously: a failure is the seller app's error answer (alarmed as usage-crashed), " +
        'and the app sends the batch again.',
      environment: this.environment(props),
    });
    grantOnItems(recorder, subscribers, ['dynamodb:BatchGetItem'], [subscribersItemPrefixes.subscriber]);
    // One transaction per call; DynamoDB authorizes its items one by one, as the UpdateItem and PutItem they are.
    grantOnItems(recorder, usage, ['dynamodb:UpdateItem'], [usageItemPrefixes.bucket]);
    grantOnItems(recorder, usage, ['dynamodb:PutItem', 'dynamodb:BatchGetItem'], [usageItemPrefixes.usageEvent]);
    crashAlarm(recorder, "the seller's app");
    return recorder;
  }

  /** What both metering functions may do: read subscribers, find, freeze and settle buckets, call Marketplace. */
  private grantMetering(grantee: ProjectFunction, { subscribers, usage }: MeteringProps, indexes: string[]): void {
    Grant.addToPrincipal({ grantee, actions: ['dynamodb:Query'], resourceArns: indexes });
    grantOnItems(grantee, usage, ['dynamodb:GetItem', 'dynamodb:UpdateItem'], [usageItemPrefixes.bucket]);
    grantOnItems(grantee, subscribers, ['dynamodb:GetItem'], [subscribersItemPrefixes.subscriber]);
    Grant.addToPrincipal({ grantee, actions: ['aws-marketplace:BatchMeterUsage'], resourceArns: ['*'] });
    Validations.of(grantee).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'aws-marketplace:BatchMeterUsage supports no resource-level permissions: the Service Authorization ' +
        'Reference lists no resource type for it, so "*" is the only resource it can be granted on.',
    });
  }

  private meteringFunction(
    props: MeteringProps,
    deadLetterQueue: Queue,
  ): { metering: ProjectFunction; stateMachine: StateMachine } {
    const { config, subscribers, usage } = props;
    const metering = new ProjectFunction(this, 'Metering', {
      entry: 'lambdas/metering/metering.ts',
      serviceName: 'metering',
      description: 'Sends closed hours of usage to AWS Marketplace (BatchMeterUsage), every hour, to a time budget',
      // Memory buys CPU for signing and JSON at 250 records a second.
      memorySize: 512,
      timeout: METERING_TIMEOUT,
      // One run at a time: Marketplace's quota (10 calls a second) is per account, so two runs would only throttle
      // each other.
      reservedConcurrentExecutions: METERING_RESERVED_CONCURRENCY.hourly,
      tracing: config.observability.tracing,
      failuresGo:
        'The MeteringRun state machine invokes it synchronously and retries a failed run; an execution that still ' +
        'fails is alarmed (metering-failed) and its usage stays pending for the next run.',
      environment: this.meteringEnvironment(props),
    });
    this.grantMetering(metering, props, [
      `${usage.tableArn}/index/${PENDING_INDEX.indexName}`,
      `${subscribers.tableArn}/index/${LIVE_INDEX.indexName}`,
    ]);
    // Which live subscribers have no bucket for the hour yet (a hundred keys a read), for their zero-usage records.
    grantOnItems(metering, usage, ['dynamodb:BatchGetItem'], [usageItemPrefixes.bucket]);
    const stateMachine = this.meteringStateMachine(metering, config.observability.tracing);
    new Rule(this, 'Schedule', {
      description: `Meters every closed hour of usage, at minute ${config.metering.scheduleMinute} of each hour`,
      schedule: Schedule.cron({ minute: String(config.metering.scheduleMinute) }),
      targets: [
        new SfnStateMachine(stateMachine, { deadLetterQueue, retryAttempts: 3, maxEventAge: Duration.hours(1) }),
      ],
    });
    alarmWhenAbove(metering, 'FailedAlarm', {
      name: 'metering-failed',
      description:
        'An hourly metering run failed after its retries: the function crashed, timed out or could not be ' +
        "invoked (see the MeteringRun state machine's execution and the metering log group). Its buckets stay " +
        'pending and the next run retries them, but usage not sent within the acceptance window ' +
        `(${config.metering.acceptanceWindowHours} h) can no longer be billed.`,
      metric: stateMachine.metricFailed({ statistic: 'Sum' }),
      threshold: 0,
    });
    return { metering, stateMachine };
  }

  /**
   * The hourly run as a Step Functions state machine: it invokes the metering function, and again as long as a run
   * hands over (its time budget ran out before the backlog did), so that a backlog of any size is billed in order,
   * oldest first, at the quota's pace, one run after another with no gap, each well inside Lambda's 15 minutes. Chosen
   * over a function invoking itself (which needs a grant on its own ARN, and whose continuation waits in Lambda's
   * throttled-event queue behind its own reserved concurrency) and over a work queue (whose consumers Lambda starts two
   * at a time at least): each hand-over and each retry shows in the execution's history.
   */
  private meteringStateMachine(metering: ProjectFunction, tracing: boolean): StateMachine {
    const run = new LambdaInvoke(this, 'Run', {
      lambdaFunction: metering.lambda,
      // Every run gets the schedule's event, as the function would from the rule itself.
      payload: TaskInput.fromJsonPathAt('$$.Execution.Input'),
      resultPath: '$.run',
      retryOnServiceExceptions: false,
    });
    // Another execution's run holds the function's one slot (a backlog longer than the hour): wait for it.
    run.addRetry({
      errors: ['Lambda.TooManyRequestsException'],
      interval: Duration.seconds(10),
      backoffRate: 2,
      maxDelay: Duration.minutes(1),
      maxAttempts: 100,
      jitterStrategy: JitterType.FULL,
    });
    // A run that failed (a crash, a timeout, DynamoDB down; calls Marketplace fails only leave usage pending): twice
    // more, then the execution fails (alarmed).
    run.addRetry({ errors: ['States.ALL'], interval: Duration.seconds(30), backoffRate: 2, maxAttempts: 2 });
    const handedOver = Condition.and(
      Condition.isPresent('$.run.Payload.handOver'),
      Condition.booleanEquals('$.run.Payload.handOver', true),
    );
    const definition = run.next(
      new Choice(this, 'HandedOver').when(handedOver, run).otherwise(new Succeed(this, 'Metered')),
    );
    const stateMachine = new StateMachine(this, 'MeteringRun', {
      definitionBody: DefinitionBody.fromChainable(definition),
      tracingEnabled: tracing,
      logs: {
        destination: new LogGroup(this, 'MeteringRunLogs', {
          // Under /aws/vendedlogs/, or Step Functions adds the group to the account's CloudWatch Logs resource policy,
          // whose 5,120 characters an account with many state machines has used up. The stack's own UUID keeps the
          // name free for a new stack of the same name, as the group outlives a deleted one.
          logGroupName: Fn.join('', [
            `/aws/vendedlogs/states/${Stack.of(this).stackName}-metering-run-`,
            Fn.select(2, Fn.split('/', Aws.STACK_ID)),
          ]),
          retention: LOG_RETENTION,
          removalPolicy: KEPT_ONCE_DEPLOYED,
        }),
        level: LogLevel.ALL,
        includeExecutionData: false,
      },
    });
    const functionId = Stack.of(this).getLogicalId(metering.lambda.node.defaultChild as CfnFunction);
    Validations.of(stateMachine).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${functionId}.Arn>:*]`,
      reason:
        "Step Functions' Lambda task is granted the metering function and its versions (<arn>:*); the state " +
        'machine invokes the one function, unqualified, and nothing else.',
    });
    Validations.of(stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        "The state machine's execution logging (CloudWatch Logs' log delivery actions, DescribeLogGroups, " +
        'DescribeResourcePolicies, PutResourcePolicy)' +
        (tracing ? ' and its X-Ray tracing (PutTraceSegments, PutTelemetryRecords, GetSampling*)' : '') +
        ': Step Functions grants them on "*", the only resource log delivery and X-Ray accept.',
    });
    if (!tracing) {
      for (const id of ['AwsSolutions-SF2', 'Serverless-StepFunctionStateMachineXray']) {
        Validations.of(stateMachine).acknowledge({
          id,
          reason: 'Tracing is off in this configuration (marketplace.observability.tracing = false).',
        });
      }
    }
    return stateMachine;
  }

  /**
   * Final metering of ending subscribers: every minute, so that the final hour goes out when it is due and a failed
   * send is retried within the final-metering window; and at once when a subscriber starts ending. A function of its
   * own, so that it never waits behind an hourly run.
   */
  private finalMeteringFunction(props: MeteringProps, deadLetterQueue: Queue): ProjectFunction {
    const { config, subscribers, sellerEvents } = props;
    const finalMetering = new ProjectFunction(this, 'FinalMetering', {
      entry: 'lambdas/metering/final-metering.ts',
      serviceName: 'final-metering',
      description: "Sends ending subscribers' usage to AWS Marketplace inside their final-metering window",
      memorySize: 512,
      timeout: FINAL_METERING_TIMEOUT,
      // Runs every minute; one at a time, as they would only repeat each other's sends.
      reservedConcurrentExecutions: METERING_RESERVED_CONCURRENCY.final,
      tracing: config.observability.tracing,
      failuresGo:
        'A failed asynchronous run goes to the metering dead-letter queue through its on-failure destination, which ' +
        "keeps the error and the event (Lambda's dead-letter queue would keep the event only).",
      environment: this.meteringEnvironment(props),
    });
    this.grantMetering(finalMetering, props, [`${subscribers.tableArn}/index/${ENDING_INDEX.indexName}`]);
    // An ending subscriber's unsettled buckets are read from the table itself, by its partition.
    grantOnItems(finalMetering, props.usage, ['dynamodb:Query'], [usageItemPrefixes.bucket]);
    finalMetering.lambda.configureAsyncInvoke({
      onFailure: new SqsDestination(deadLetterQueue),
      // A failed run is not retried: the next minute's run does the same work, as of its own time.
      maxEventAge: Duration.hours(1),
      retryAttempts: 0,
    });
    new Rule(this, 'FinalMeteringSchedule', {
      description: "Meters ending subscribers' usage as it comes due, every minute",
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [this.ruleTarget(finalMetering, deadLetterQueue)],
    });
    sellerEvents.onSubscriberEnding('FinalMeteringStart', this.ruleTarget(finalMetering, deadLetterQueue));
    alarmWhenAbove(finalMetering, 'FailedAlarm', {
      name: 'final-metering-failed',
      description:
        'A final-metering run failed (see the final-metering log group). The next one, a minute later, retries; ' +
        `an ending subscriber's usage not billed within ${config.lifecycle.finalMeteringGraceMinutes} minutes of ` +
        'the cancellation can no longer be billed (FinalMeteringMissed).',
      metric: finalMetering.lambda.metricErrors({ statistic: 'Sum' }),
      threshold: 0,
    });
    return finalMetering;
  }

  /** What EventBridge cannot hand to Lambda waits beside the failed runs, rather than being dropped. */
  private ruleTarget(target: ProjectFunction, deadLetterQueue: Queue): LambdaFunction {
    return new LambdaFunction(target.lambda, { deadLetterQueue, retryAttempts: 3, maxEventAge: Duration.hours(1) });
  }

  private meteringEnvironment(props: MeteringProps): Record<string, string> {
    return {
      ...this.environment(props),
      MARKETPLACE_REGION: props.config.marketplaceRegion,
      METRICS_NAMESPACE: this.metricsNamespace,
    };
  }

  /** Alarms on what the runs report, whichever function ran them. */
  private metricAlarms(config: Config, scope: ProjectFunction): void {
    alarmWhenAbove(scope, 'RejectedAlarm', {
      name: 'metering-rejected',
      description:
        'Marketplace refused usage records (or a bucket named an unknown subscriber): that usage will not be ' +
        'billed as it stands. The reason is on each bucket (npm run report, or the RecordsRejected metric by Reason ' +
        'on the metering dashboard); CustomerNotSubscribed means the buyer was not subscribed for that hour.',
      metric: this.metric(METERING_METRICS.rejected, 'Sum'),
      threshold: 0,
    });
    // A run that cannot send finishes normally, its usage left pending for the next: without this alarm the first
    // word of a caller Marketplace refuses, or of calls failing every retry, would come half a window later.
    alarmWhenAbove(scope, 'UnsentAlarm', {
      name: 'metering-unsent',
      description:
        'A metering run (hourly or final) left due usage unsent: Marketplace throttled or failed the calls through ' +
        'every retry, refused the caller (DisabledApiException, AccessDeniedException, expired credentials), a ' +
        'bucket could not be read or settled, or usage is for a buyer who has not arrived yet (no account to name). ' +
        'It stays pending and the next run retries it (final metering a minute later); the metering log groups give ' +
        'the reason ("Usage left pending").',
      metric: this.metric(METERING_METRICS.pending, 'Sum'),
      threshold: 0,
    });
    const halfWindowHours = config.metering.acceptanceWindowHours / 2;
    alarmWhenAbove(scope, 'BehindAlarm', {
      name: 'metering-behind',
      description:
        `Usage has waited more than ${halfWindowHours} hours to be billed: runs keep failing to send it (see the ` +
        'metering log group: throttling, Marketplace errors, a missing permission). Marketplace accepts a record ' +
        `for ${config.metering.acceptanceWindowHours} hours after its hour; after that the usage expires unbilled.`,
      metric: this.metric(METERING_METRICS.oldestPendingAge, 'Maximum'),
      threshold: Duration.hours(halfWindowHours).toSeconds(),
    });
    alarmWhenAbove(scope, 'FinalMeteringMissedAlarm', {
      name: 'final-metering-missed',
      description:
        "An ending subscriber's final-metering deadline passed before all of its usage was billed: those records " +
        'expired unbilled. The log group of the run that found it (final metering, or the hourly metering run) ' +
        'names the subscriber, hour and units ("Final metering missed its deadline"); look there for why the sends ' +
        'failed (Marketplace unreachable, throttling, permissions).',
      metric: this.metric(METERING_METRICS.finalDeadlineMissed, 'Sum'),
      threshold: 0,
    });
    alarmWhenAbove(scope, 'UnconfirmedSendAlarm', {
      name: 'metering-unconfirmed-send',
      description:
        'A bucket was rejected or expired after an earlier send whose answer was never learned (a dropped ' +
        'connection, a run that died): Marketplace may have billed it then. npm run report lists it as ' +
        '"unconfirmed send"; find the earlier call in CloudTrail (BatchMeterUsage, same customer, dimension and ' +
        'hour) to settle whether it was billed.',
      metric: this.metric(METERING_METRICS.unconfirmedSends, 'Sum'),
      threshold: 0,
    });
  }

  /** One of the run's metrics, per hour (the schedule's period). */
  metric(name: string, statistic: 'Sum' | 'Maximum'): Metric {
    return new Metric({
      namespace: this.metricsNamespace,
      metricName: name,
      dimensionsMap: { service: METERING_METRICS_SERVICE },
      statistic,
      period: Duration.hours(1),
    });
  }
}
