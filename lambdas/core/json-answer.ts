/** An API answer to the seller's app: JSON, never cached (an access check or a usage outcome is of its moment). */
import type { APIGatewayProxyResult } from 'aws-lambda';

export function jsonAnswer(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/** Seconds the seller's app should wait before asking again what DynamoDB could not answer. */
const APP_RETRY_AFTER_SECONDS = 2;

/** The answer to a request the database could not serve this time: 503, with when to try again. */
export function tryAgainAnswer(): APIGatewayProxyResult {
  return jsonAnswer(503, { message: 'Try again' }, { 'retry-after': String(APP_RETRY_AFTER_SECONDS) });
}
