/**
 * The routes of the project's REST API and the function behind each. The CDK stack builds the API Gateway resources
 * from this list and the local gateway serves the same list, so the API cannot differ between AWS and a laptop.
 * Every route takes `ANY` method: a handler answers the methods it does not serve with a page a buyer understands
 * (API Gateway itself would answer a bare 403 JSON).
 */
import type { FunctionName } from '../contracts/index.ts';
import type { Config } from './config.ts';

/** Which of `api.throttling`'s limits a route gets. */
export type RouteThrottling = keyof Config['api']['throttling'];

export interface ApiRoute<Name extends FunctionName = FunctionName> {
  readonly path: string;
  readonly throttling: RouteThrottling;
  /**
   * `iam`: callers sign with SigV4 and need `execute-api:Invoke` (locally the signature is checked, not policies);
   * `none`: public.
   */
  readonly authorization: 'none' | 'iam';
  /** The Lambda entry module, relative to the project root. */
  readonly entry: string;
  readonly functionName: Name;
  /** The function's timeout, under API Gateway's 29 s integration timeout; the local gateway keeps to it too. */
  readonly timeoutSeconds: number;
}

export const fulfillmentRoute: ApiRoute<'fulfillment'> = {
  path: '/fulfillment',
  throttling: 'buyerPages',
  authorization: 'none',
  entry: 'lambdas/registration/fulfillment.ts',
  functionName: 'fulfillment',
  // ResolveCustomer gives up after 10 s (see fulfillment-function.ts), the database after about 6.5 s.
  timeoutSeconds: 20,
};

export const registrationPageRoute: ApiRoute<'registration-page'> = {
  path: '/register',
  throttling: 'buyerPages',
  authorization: 'none',
  entry: 'lambdas/registration/registration-page.ts',
  functionName: 'registration-page',
  timeoutSeconds: 10,
};

/** The access check for the seller's app. */
export const subscriberAccessRoute: ApiRoute<'subscriber-access'> = {
  path: '/subscribers/{id}',
  throttling: 'accessCheck',
  authorization: 'iam',
  entry: 'lambdas/access/subscriber-access.ts',
  functionName: 'subscriber-access',
  timeoutSeconds: 10,
};

/** Usage recording for the seller's app: batches of usage events, counted into hourly buckets. */
export const usageRoute: ApiRoute<'usage'> = {
  path: '/usage',
  throttling: 'usage',
  authorization: 'iam',
  entry: 'lambdas/metering/usage.ts',
  functionName: 'usage',
  timeoutSeconds: 10,
};

export const apiRoutes: readonly ApiRoute[] = [
  fulfillmentRoute,
  registrationPageRoute,
  subscriberAccessRoute,
  usageRoute,
];
