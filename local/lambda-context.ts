/**
 * The `context` a Lambda function receives, for one invocation by any local event source (the gateway, the stream
 * poller, the queues, the schedule). Its request id is Lambda's own (behind API Gateway it is not the gateway's
 * `requestContext.requestId`), and its clock counts down `timeoutMs`: the function's timeout or, behind the gateway,
 * the integration timeout, the time the caller will actually wait.
 */
import type { Context } from 'aws-lambda';
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { LocalStackError } from './errors.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './local-aws.ts';

/** The CDK's default memory size for a Lambda function. */
const MEMORY_LIMIT_MB = '128';

export function createLambdaContext(functionName: string, timeoutMs: number, startedAt: Date): Context {
  const deadline = performance.now() + timeoutMs;
  const day = startedAt.toISOString().slice(0, 10).replaceAll('-', '/');
  const unsupported = (method: string) => () => {
    // The Node.js 24 runtime dropped callback-style handlers; the handlers here are async and return or throw.
    throw new LocalStackError(
      `context.${method}() is not supported: return the result or throw from the async handler`,
    );
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${functionName}`,
    memoryLimitInMB: MEMORY_LIMIT_MB,
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `${day}/[$LATEST]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, Math.round(deadline - performance.now())),
    done: unsupported('done'),
    fail: unsupported('fail'),
    succeed: unsupported('succeed'),
  };
}
