/**
 * One synchronous Lambda invocation as API Gateway makes it: the event crosses to the function as JSON and the result
 * comes back as JSON (so the function gets its own copy, and a `Date` or `undefined` in a result turns into what
 * Lambda's runtime would make of it), both within Lambda's payload limits, and the gateway stops waiting at its
 * integration timeout.
 */
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import type { ProxyHandler } from './routes.ts';
import { LocalStackError } from '../errors.ts';

/** Lambda's synchronous invocation quotas: 6 MB for the request, and (as measured) 100 bytes more for the response. */
const MAX_EVENT_BYTES = 6 * 1024 * 1024;
const MAX_RESULT_BYTES = 6 * 1024 * 1024 + 100;

/** The function threw, rejected, or returned something that cannot travel back as JSON. */
export class FunctionError extends LocalStackError {
  override readonly name = 'FunctionError';

  constructor(cause: unknown) {
    super(cause instanceof Error ? `${cause.name}: ${cause.message}` : `the function failed with ${String(cause)}`, {
      cause,
    });
  }
}

/** The function ran past its own timeout: Lambda stops it and reports "Task timed out", a function error. */
export class FunctionTimeoutError extends LocalStackError {
  override readonly name = 'FunctionTimeoutError';

  constructor(readonly timeoutMs: number) {
    super(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`);
  }
}

/** The function did not answer within the integration timeout. It may still be running (in AWS too). */
export class IntegrationTimeoutError extends LocalStackError {
  override readonly name = 'IntegrationTimeoutError';

  constructor(readonly timeoutMs: number) {
    super(`the function did not answer within ${timeoutMs} ms`);
  }
}

/** Lambda's RequestEntityTooLargeException: the event built from the request is over the invocation limit. */
export class EventTooLargeError extends LocalStackError {
  override readonly name = 'EventTooLargeError';

  constructor(readonly bytes: number) {
    super(`the event is ${bytes} bytes, over Lambda's ${MAX_EVENT_BYTES}-byte invocation limit`);
  }
}

/** The result is over Lambda's response limit: Lambda reports a function error instead. */
export class ResultTooLargeError extends LocalStackError {
  override readonly name = 'ResultTooLargeError';

  constructor(readonly bytes: number) {
    super(`the result is ${bytes} bytes, over Lambda's ${MAX_RESULT_BYTES}-byte response limit`);
  }
}

/**
 * @param timeoutMs the gateway's integration timeout.
 * @param functionTimeoutMs the function's own timeout, when shorter: past it the invocation fails as Lambda's does.
 * @returns the result as API Gateway receives it: parsed JSON, `null` when the function returned nothing.
 */
export async function invokeFunction(
  handler: ProxyHandler,
  event: APIGatewayProxyEvent,
  context: Context,
  timeoutMs: number,
  functionTimeoutMs?: number,
): Promise<unknown> {
  const eventJson = JSON.stringify(event);
  const eventBytes = Buffer.byteLength(eventJson);
  if (eventBytes > MAX_EVENT_BYTES) throw new EventTooLargeError(eventBytes);

  const running = Promise.resolve().then(() => handler(JSON.parse(eventJson) as APIGatewayProxyEvent, context));
  const functionTimesOutFirst = functionTimeoutMs !== undefined && functionTimeoutMs < timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = functionTimesOutFirst
      ? setTimeout(() => reject(new FunctionTimeoutError(functionTimeoutMs)), functionTimeoutMs)
      : setTimeout(() => reject(new IntegrationTimeoutError(timeoutMs)), timeoutMs);
    // The open connection keeps the process alive while a client waits; after close() nothing should.
    timer.unref();
  });
  let result: unknown;
  try {
    result = await Promise.race([running, timedOut]);
  } catch (error) {
    // Lambda would stop a function at its timeout; here it runs on, and what it does later is only logged.
    if (error instanceof IntegrationTimeoutError || error instanceof FunctionTimeoutError) {
      running.catch((lateError: unknown) =>
        console.error(`local gateway: ${context.functionName} failed after it had timed out`, lateError),
      );
    }
    if (error instanceof IntegrationTimeoutError) throw error;
    throw new FunctionError(error);
  } finally {
    clearTimeout(timer);
  }
  return JSON.parse(resultJson(result)) as unknown;
}

function resultJson(result: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(result);
  } catch (error) {
    throw new FunctionError(error);
  }
  // Lambda's runtime sends `null` for a function that returned nothing.
  if (json === undefined) return 'null';
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_RESULT_BYTES) throw new ResultTooLargeError(bytes);
  return json;
}
