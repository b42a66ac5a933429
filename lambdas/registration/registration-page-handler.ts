/**
 * The registration page (`GET /register`, `POST /register`): shows the subscription's status and collects the buyer's
 * contact details, once. It knows the buyer only by the session cookie the fulfillment URL set; the form must echo
 * the session's anti-forgery token. After a successful POST the browser is redirected (303), so a refresh never
 * re-submits; a free-trial buyer may be sent to the seller's trial landing page instead.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { Clock } from '../core/clock.ts';
import { validateRegistration } from '../core/registration-form.ts';
import {
  formTokenMatches,
  type RegistrationSession,
  type RegistrationSessions,
} from '../core/registration-sessions.ts';
import type { SubscriberRepository } from '../core/subscriber-repository.ts';
import type { Subscriber } from '../core/subscriber.ts';
import { BadRequest, cookie, formFields, SESSION_COOKIE } from './http.ts';
import type { PageResponses } from './page-responses.ts';
import { registeredPage, registrationFormPage } from './pages.ts';
import { problemForBadRequest, problemForStorageError } from './problems.ts';

const MAX_FORM_BYTES = 16 * 1024;

export interface RegistrationPageDependencies {
  readonly subscribers: SubscriberRepository;
  readonly sessions: RegistrationSessions;
  readonly pages: PageResponses;
  readonly clock: Clock;
  readonly logger: Logger;
}

export function createRegistrationPageHandler(dependencies: RegistrationPageDependencies) {
  const { pages, logger } = dependencies;
  const { settings } = pages;

  /** Where a registered buyer goes next: the trial landing page for a free trial, if the seller has one. */
  const signInUrl = (subscriber: Subscriber) =>
    subscriber.offerType === 'free-trial' && settings.freeTrialLandingUrl !== undefined
      ? settings.freeTrialLandingUrl
      : settings.appUrl;

  const show = (subscriber: Subscriber, session: RegistrationSession): APIGatewayProxyResult => {
    const branding = pages.branding(subscriber.identity.productCode);
    return subscriber.registration !== undefined
      ? pages.page(200, registeredPage(branding, subscriber.subscriptionStatus, signInUrl(subscriber)))
      : pages.page(
          200,
          registrationFormPage(branding, {
            status: subscriber.subscriptionStatus,
            formToken: session.formToken,
            required: settings.requiredFields,
          }),
        );
  };

  const submit = async (
    event: APIGatewayProxyEvent,
    subscriber: Subscriber,
    session: RegistrationSession,
  ): Promise<APIGatewayProxyResult> => {
    const productCode = subscriber.identity.productCode;
    const fields = formFields(event, MAX_FORM_BYTES);
    if (!formTokenMatches(session, fields.get('formToken') ?? undefined)) {
      logger.warn('Registration form submitted without its session token', { subscriberId: subscriber.id });
      return pages.problem('form-expired', productCode);
    }
    if (subscriber.registration !== undefined) return pages.seeOther('register');
    const validation = validateRegistration(Object.fromEntries(fields), settings.requiredFields);
    if (!validation.valid) {
      return pages.page(
        400,
        registrationFormPage(pages.branding(productCode), {
          status: subscriber.subscriptionStatus,
          formToken: session.formToken,
          required: settings.requiredFields,
          values: validation.values,
          errors: validation.errors,
        }),
      );
    }
    const outcome = await dependencies.subscribers.completeRegistration(
      subscriber.id,
      validation.details,
      dependencies.clock.now(),
    );
    logger.info('Buyer registered', { subscriberId: subscriber.id, productCode, outcome });
    const trialLanding = subscriber.offerType === 'free-trial' ? settings.freeTrialLandingUrl : undefined;
    return pages.seeOther(outcome === 'completed' && trialLanding !== undefined ? trialLanding : 'register');
  };

  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    // API Gateway's request id is what the buyer's browser saw (x-amzn-RequestId): log lines carry it.
    logger.setCorrelationId(event.requestContext?.requestId);
    if (event.httpMethod !== 'GET' && event.httpMethod !== 'POST') {
      return pages.problem('wrong-method', undefined, { allow: 'GET, POST' });
    }
    try {
      const sessionId = cookie(event, SESSION_COOKIE);
      const now = dependencies.clock.now();
      const session = sessionId === undefined ? undefined : await dependencies.sessions.find(sessionId, now);
      const subscriber = session === undefined ? undefined : await dependencies.subscribers.get(session.subscriberId);
      if (session === undefined || subscriber === undefined) return pages.problem('session-expired');
      return event.httpMethod === 'GET' ? show(subscriber, session) : await submit(event, subscriber, session);
    } catch (error) {
      if (error instanceof BadRequest) return pages.problem(problemForBadRequest(error));
      return problemForStorageError(error, pages, logger);
    }
  };
}
