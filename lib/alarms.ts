/**
 * The stack's alarms: few, each one a state an operator must look at, named after what went wrong and described with
 * what to do, ending with the runbook entry that answers it. Every one notifies the stack's alarm topic when it goes
 * off and when it clears (`alarm-topic.ts` adds that to every alarm). No data is not trouble: a queue, function or
 * stream with nothing to report is a healthy one.
 */
import { Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, MathExpression, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
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

/**
 * For the functions behind the API, whose callers wait: Lambda refusing to run one (the account's concurrency in the
 * region used up, or the function scaling faster than Lambda allows) fails the request without an error of the
 * function's, so no crash alarm sees it.
 */
export function throttleAlarm(scope: Construct, functions: readonly ProjectFunction[]): Alarm {
  const throttles = Object.fromEntries(
    functions.map((each, index) => [`throttles${index}`, each.lambda.metricThrottles({ statistic: 'Sum' })]),
  );
  return alarmWhenAbove(scope, 'ThrottledAlarm', {
    name: 'api-functions-throttled',
    description:
      `Lambda refused to run a function behind the API (${functions.map((each) => each.serviceName).join(', ')}): ` +
      "the account's concurrency in this region was used up, or a function's scaling rate. Buyers got the try-again " +
      "page, your app's access checks a 5xx (not 'allowed'), and its usage calls a 5xx that the usage client " +
      'retries, keeping their events. The Throttles metric of each function says which.',
    metric: new MathExpression({
      // A function not throttled in the period has no data point: counted as none, rather than hiding the others'.
      expression: `SUM([${Object.keys(throttles)
        .map((id) => `FILL(${id}, 0)`)
        .join(', ')}])`,
      usingMetrics: throttles,
      label: 'Throttles of the API functions',
    }),
    threshold: 0,
  });
}
