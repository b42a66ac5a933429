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
