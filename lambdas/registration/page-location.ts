/**
 * Where to send the browser for the registration page. API Gateway routes `/fulfillment/` (a fulfillment URL pasted
 * with a trailing slash) and `/register/` like the paths without one, but a relative `register` resolves against the
 * URL the browser is at: from `.../fulfillment/` it would be `.../fulfillment/register`, a route that does not exist.
 * The reference climbs one level per segment of the request's path below the API's base, so it is right from either
 * form and whatever the base is (the stage, or a custom domain's base path).
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';

export function registrationPageLocation(
  event: Pick<APIGatewayProxyEvent, 'path'>,
  productCode: string | undefined,
): string {
  const levelsBelowBase = Math.max(0, (event.path ?? '/').split('/').length - 2);
  // The product names the session cookie to read (one per product), not the session: nothing secret in the address.
  const product = productCode === undefined ? '' : `?${new URLSearchParams({ product: productCode }).toString()}`;
  return `${'../'.repeat(levelsBelowBase)}register${product}`;
}
