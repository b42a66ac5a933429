/**
 * The stack's alarms: few, each one a state an operator must look at, named after what went wrong and described with
 * what to do, ending with the runbook entry that answers it. Every one notifies the stack's alarm topic when it goes
 * off and when it clears (`alarm-topic.ts` adds that to every alarm). No data is not trouble: a queue, function or
 * stream with nothing to report is a healthy one.
 */
import { Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import type { ProjectFunction } from './functions.ts';

/** The operator's runbook, in the repository: one entry per alarm, its anchor the alarm's name in the stack. */
const RUNBOOK = 'docs/operations.md';

export interface AlarmAboveProps {
  /** Unique in the stack; the alarm is called `<stack name>-<name>`, and its runbook entry `#<name>`. */
  readonly name: string;
  /** What the alarm means and what to do about it. */
  readonly description: string;
  readonly metric: IMetric;
  readonly threshold: number;
}

/**
 * One period over the threshold is enough: each alarm here watches something that should not happen at all, so there
 * is no noise to average away.
 */
export function alarmWhenAbove(scope: Construct, id: string, props: AlarmAboveProps): Alarm {
  return new Alarm(scope, id, {
    alarmName: `${Stack.of(scope).stackName}-${props.name}`,
    alarmDescription: `${props.description} Runbook: ${RUNBOOK}#${props.name}`,
    metric: props.metric,
    threshold: props.threshold,
    comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
}

/**
 * For a function behind the API that catches every error and answers it: a Lambda error is then a crash (an uncaught
 * bug, a timeout, memory running out), and the caller got API Gateway's error answer instead of the function's own.
 */
export function crashAlarm(projectFunction: ProjectFunction, caller: string): Alarm {
  const { serviceName } = projectFunction;
  return alarmWhenAbove(projectFunction, 'CrashAlarm', {
    name: `${serviceName}-crashed`,
    description:
      `The ${serviceName} function failed an invocation. It answers every error it knows itself, so this is a ` +
      `crash (a bug, a timeout or memory running out) and ${caller} got API Gateway's error answer instead. ` +
      "Look for the failed request in the function's log group.",
    metric: projectFunction.lambda.metricErrors({ statistic: 'Sum' }),
    threshold: 0,
  });
}
