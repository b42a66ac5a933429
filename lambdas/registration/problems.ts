/** Mapping failures that both registration functions meet to the page the buyer gets. */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { BadRequestError } from './http.ts';
import type { PageResponses } from './page-responses.ts';
import type { Problem } from './pages.ts';

export function problemForBadRequest(error: BadRequestError): Problem {
  switch (error.reason) {
    case 'content-type':
      return 'wrong-content-type';
    case 'too-large':
      return 'too-large';
    case 'encoding':
      return 'bad-encoding';
  }
}

/** Failures that pass: the database overloaded or unreachable for a moment. */
const TRANSIENT_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
  'AbortError',
]);
const TRANSIENT_NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);

/**
 * An unexpected failure, almost always the database: a passing one is "try again shortly", anything else is on us.
 * Only the error's name and message are logged: never the event, which may carry the token.
 */
export function problemForUnexpectedError(error: unknown, pages: PageResponses, logger: Logger): APIGatewayProxyResult {
  const name = error instanceof Error ? error.name : 'unknown';
  const code = (error as { code?: unknown } | undefined)?.code;
  logger.error('Request failed', {
    errorName: name,
    errorMessage: error instanceof Error ? error.message : String(error),
  });
  const transient = TRANSIENT_ERRORS.has(name) || (typeof code === 'string' && TRANSIENT_NETWORK_CODES.has(code));
  return pages.problem(transient ? 'busy' : 'internal-error');
}
