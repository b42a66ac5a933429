/**
 * What API Gateway answers itself when no function does: throttled, timed out, or failed. These answers are a page
 * (`try-again-page.ts`) rather than API Gateway's JSON, for the buyer's browser: a gateway response has one set of
 * headers for every route, so the machine routes (`POST /usage`, `GET /subscribers/{id}`) get the page too, and their
 * clients go by the status and `Retry-After` (the usage client retries a 429 or 5xx, the body read only for a message).
 * DEFAULT_4XX stays API Gateway's JSON: the machine routes' clients read its message (a refused signature), and a buyer
 * meets a 4xx from API Gateway itself only at an address nobody sent them to.
 */
import { ResponseType, type RestApi } from 'aws-cdk-lib/aws-apigateway';
import { BUYER_RETRY_AFTER_SECONDS } from '../contracts/index.ts';
import { TRY_AGAIN_PAGE, tryAgainPageHeaders } from './try-again-page.ts';

/** API Gateway reads a header value in single quotes as that literal text (otherwise as a request value to map). */
function literal(value: string): string {
  return `'${value}'`;
}

export function answerGatewayErrorsWithPages(api: RestApi): void {
  const headers = Object.fromEntries(
    Object.entries({ ...tryAgainPageHeaders, 'content-type': 'text/html; charset=utf-8' }).map(([name, value]) => [
      name,
      literal(value),
    ]),
  );
  const retryAfter = { 'retry-after': literal(String(BUYER_RETRY_AFTER_SECONDS)) };
  // API Gateway picks the template by the request's Accept header, falling back to application/json: with the page
  // under both keys, a browser and a bare client alike get the page the content-type header announces.
  const templates = { 'text/html': TRY_AGAIN_PAGE, 'application/json': TRY_AGAIN_PAGE };

  api.addGatewayResponse('Throttled', {
    type: ResponseType.THROTTLED,
    statusCode: '429',
    responseHeaders: { ...headers, ...retryAfter },
    templates,
  });
  api.addGatewayResponse('IntegrationTimeout', {
    type: ResponseType.INTEGRATION_TIMEOUT,
    statusCode: '504',
    responseHeaders: { ...headers, ...retryAfter },
    templates,
  });
  // No status code: each 5xx keeps its own (500, 502, 503...).
  api.addGatewayResponse('Default5xx', {
    type: ResponseType.DEFAULT_5XX,
    responseHeaders: headers,
    templates,
  });
}
