/**
 * The fulfillment URL: where AWS Marketplace sends the buyer's browser, with a form POST carrying
 * `x-amzn-marketplace-token`. It resolves the token at once, records the subscriber, and sends the browser on to the
 * registration page with a 303 and a session cookie: the token goes nowhere else. Every failure is a page the buyer
 * understands, with the status that fits.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import {
  acceptBuyer,
  IdentityMismatchError,
  UnknownProductError,
  type ArrivalDependencies,
} from '../core/buyer-arrival.ts';
import { MarketplaceUnavailableError, RegistrationTokenRejectedError } from '../core/marketplace-customers.ts';
import { correlateWithApiRequest } from '../core/api-request.ts';
import { BadRequestError, formFields, sessionCookie } from './http.ts';
import type { PageResponses } from './page-responses.ts';
import { registrationPageLocation } from './page-location.ts';
import { problemForBadRequest, problemForUnexpectedError } from './problems.ts';

/** Marketplace's tokens are a few hundred characters; a much longer one is not from Marketplace. */
export const MAX_TOKEN_LENGTH = 8 * 1024;

export interface FulfillmentDependencies extends ArrivalDependencies {
  readonly pages: PageResponses;
  readonly logger: Logger;
}

export function createFulfillmentHandler(dependencies: FulfillmentDependencies) {
  const { pages, logger } = dependencies;
  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    correlateWithApiRequest(logger, event);
    if (event.httpMethod !== 'POST')
      return pages.problem('fulfillment-method', undefined, { headers: { allow: 'POST' } });
    let fields: URLSearchParams;
    try {
      fields = formFields(event);
    } catch (error) {
      if (error instanceof BadRequestError) return pages.problem(problemForBadRequest(error));
      throw error;
    }
    const tokens = fields.getAll('x-amzn-marketplace-token');
    // Marketplace sends one: of several, which would be the buyer's? (Even if all but one are empty.)
    if (tokens.length > 1) return pages.problem('invalid-token');
    const token = tokens[0]?.trim() ?? '';
    if (token === '') return pages.problem('missing-token');
    if (token.length > MAX_TOKEN_LENGTH) return pages.problem('invalid-token');
    // The browser's claim, not an entitlement: Marketplace adds the field for trial offers, but anyone can add it.
    const offerType = fields.get('x-amzn-marketplace-offer-type') === 'free-trial' ? 'free-trial' : 'standard';

    try {
      const { subscriber, session } = await acceptBuyer(dependencies, token, offerType);
      logger.info('Buyer arrived from Marketplace', {
        subscriberId: subscriber.id,
        productCode: subscriber.identity.productCode,
        identityModel: subscriber.identity.model,
        offerType: subscriber.offerType,
      });
      const maxAge = Math.round((session.expiresAt.getTime() - dependencies.clock.now().getTime()) / 1000);
      const { productCode } = subscriber.identity;
      return pages.seeOther(registrationPageLocation(event, productCode), [
        sessionCookie(event, productCode, session.sessionId, maxAge),
      ]);
    } catch (error) {
      if (error instanceof RegistrationTokenRejectedError) {
        logger.warn('Marketplace rejected a registration token', { reason: error.reason, requestId: error.requestId });
        return pages.problem(error.reason === 'expired' ? 'expired-token' : 'invalid-token');
      }
      if (error instanceof MarketplaceUnavailableError) {
        logger.error('ResolveCustomer failed after retries', { failure: error.failure, requestId: error.requestId });
        return pages.problem('marketplace-unavailable');
      }
      if (error instanceof UnknownProductError) {
        logger.error('A buyer arrived for a product this deployment does not sell', { productCode: error.productCode });
        return pages.problem('unknown-product');
      }
      if (error instanceof IdentityMismatchError) {
        logger.error('ResolveCustomer did not identify the buyer the way the product is configured', {
          productCode: error.productCode,
          identityModel: error.identityModel,
        });
        return pages.problem('unknown-product', error.productCode);
      }
      return problemForUnexpectedError(error, pages, logger);
    }
  };
}
