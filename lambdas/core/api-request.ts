/** What every API handler reads of API Gateway's request alike: a header, and the request id its log lines carry. */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent } from 'aws-lambda';

/** A header's value, whatever the case of its name (of one sent more than once, `headers` holds the last value). */
export function header(event: APIGatewayProxyEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted && value !== undefined) return value;
  }
  return undefined;
}

/** Log lines carry API Gateway's request id: the `x-amzn-RequestId` the caller (a browser, the seller's app) saw. */
export function correlateWithApiRequest(logger: Logger, event: APIGatewayProxyEvent): void {
  logger.setCorrelationId(event.requestContext?.requestId);
}
