/**
 * The routes of the project's REST API and the function behind each. The CDK stack builds the API Gateway resources
 * from this list and the local gateway serves the same list, so the API cannot differ between AWS and a laptop.
 * Every route takes `ANY` method: a handler answers the methods it does not serve with a page a buyer understands
 * (API Gateway itself would answer a bare 403 JSON).
 */
export interface ApiRoute {
  readonly path: string;
  /** The Lambda entry module, relative to the project root. */
  readonly entry: string;
  readonly functionName: string;
}

export const fulfillmentRoute: ApiRoute = {
  path: '/fulfillment',
  entry: 'lambdas/registration/fulfillment.ts',
  functionName: 'fulfillment',
};

export const registrationPageRoute: ApiRoute = {
  path: '/register',
  entry: 'lambdas/registration/registration-page.ts',
  functionName: 'registration-page',
};

export const apiRoutes: readonly ApiRoute[] = [fulfillmentRoute, registrationPageRoute];
