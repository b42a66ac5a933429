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
import { PRODUCT_CODE_PATTERN, REGISTRATION_FIELDS } from '../../contracts/index.ts';
import {
  formTokenMatches,
  type RegistrationSession,
  type RegistrationSessions,
} from '../core/registration-sessions.ts';
import { statusForReturningBuyer } from '../core/returning-buyer.ts';
import type { SubscriberRepository } from '../core/subscriber-repository.ts';
import type { RegistrationDetails, Subscriber } from '../core/subscriber.ts';
import type { FieldErrors } from '../core/registration-form.ts';
import { correlateWithApiRequest } from '../core/api-request.ts';
import { BadRequestError, formFields, sessionCookieValue } from './http.ts';
import type { PageResponses } from './page-responses.ts';
import { registrationPageLocation } from './page-location.ts';
import {
  alreadyRegisteredPage,
  registeredPage,
  registrationFormPage,
  subscriptionEndPage,
  type SubscriptionEnd,
} from './pages.ts';
import { problemForBadRequest, problemForUnexpectedError } from './problems.ts';

/** Above a form sent from a tab whose session a later arrival replaced: what happened, and what to do. */
export const FORM_OPENED_AGAIN =
  'This page was opened again from AWS Marketplace since you filled in this form, so nothing was saved yet. Check your ' +
  'details and choose Complete registration.';

/**
 * How long after the buyer first arrived a subscription still unconfirmed is taken as not coming: confirmation takes
 * minutes, and half an hour lets a buyer reloading the page inside its session (an hour by default) be told.
 */
const CONFIRMATION_OVERDUE_MS = 30 * 60_000;

/** The status the page goes by: a legacy buyer back from Marketplace to subscribe again is pending. */
function pageStatus(subscriber: Subscriber): Subscriber['subscriptionStatus'] {
  return statusForReturningBuyer({
    model: subscriber.identity.model,
    status: subscriber.subscriptionStatus,
    statusChangedAt: subscriber.statusChangedAt,
    endedAt: subscriber.endedAt,
    failedAt: subscriber.failedAt,
    resolvedLastAt: subscriber.resolvedLastAt,
  });
}

/** Whether there is still something to set up: the subscription is confirmed or on its way (or not heard of yet). */
function isOpen(status: Subscriber['subscriptionStatus']): status is 'pending' | 'active' | undefined {
  return status === undefined || status === 'pending' || status === 'active';
}

/**
 * The product the page's address names (`register?product=`), whose session cookie it reads. A value no product code
 * could be counts as none: it names no cookie.
 */
function productOf(event: APIGatewayProxyEvent): string | undefined {
  const product = event.queryStringParameters?.product;
  return product !== undefined && PRODUCT_CODE_PATTERN.test(product) ? product : undefined;
}

/** The subscription's end, as the buyer sees it: when it ended (the cancellation, not the final-metering deadline). */
function endOf(subscriber: Subscriber): SubscriptionEnd {
  return {
    at: subscriber.endedAt ?? subscriber.statusChangedAt,
    freeTrial: subscriber.offerType === 'free-trial',
    started: subscriber.started,
  };
}

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

  /** The seller's trial landing page, for a free-trial buyer, if the seller has one. */
  const trialLandingUrl = (subscriber: Subscriber) =>
    subscriber.offerType === 'free-trial' ? settings.freeTrialLandingUrl : undefined;

  /** Where a registered buyer signs in: the trial landing page for a free trial, if the seller has one. */
  const signInUrl = (subscriber: Subscriber) => trialLandingUrl(subscriber) ?? settings.appUrl;

  const formPage = (
    event: APIGatewayProxyEvent,
    subscriber: Subscriber,
    session: RegistrationSession,
    validation?: { values: RegistrationDetails; errors: FieldErrors; notice?: string },
  ) =>
    registrationFormPage(pages.branding(subscriber.identity.productCode), {
      action: registrationPageLocation(event, subscriber.identity.productCode),
      status: pageStatus(subscriber),
      customerAWSAccountId: subscriber.identity.customerAWSAccountId,
      signInUrl: settings.appUrl,
      formToken: session.formToken,
      required: settings.requiredFields,
      ...validation,
    });

  /**
   * A subscription there is nothing left to set up or use in: ended (or cancelled: access ends with it) or failed.
   * Shown for a GET (200) and for a form sent anyway (409: nothing is saved, and nobody is sent on to the app).
   */
  const closed = (
    subscriber: Subscriber,
    subscriptionStatus: 'ending' | 'ended' | 'failed',
    status: number,
  ): APIGatewayProxyResult => {
    const productCode = subscriber.identity.productCode;
    return subscriptionStatus === 'failed'
      ? pages.problem('subscription-failed', productCode, { status })
      : pages.page(status, subscriptionEndPage(pages.branding(productCode), endOf(subscriber)));
  };

  const show = (
    event: APIGatewayProxyEvent,
    subscriber: Subscriber,
    session: RegistrationSession,
  ): APIGatewayProxyResult => {
    const branding = pages.branding(subscriber.identity.productCode);
    const status = pageStatus(subscriber);
    if (!isOpen(status)) return closed(subscriber, status, 200);
    if (subscriber.registration !== undefined) {
      // Waiting since the buyer first arrived, or, back to subscribe again, since this return.
      const waitingSince =
        status === subscriber.subscriptionStatus ? subscriber.resolvedFirstAt : subscriber.resolvedLastAt;
      const overdue =
        status !== 'active' && dependencies.clock.now().getTime() - Date.parse(waitingSince) > CONFIRMATION_OVERDUE_MS;
      return pages.page(200, registeredPage(branding, status, signInUrl(subscriber), overdue));
    }
    return pages.page(200, formPage(event, subscriber, session));
  };

  /** After registration (this submission's or an earlier one's): a free-trial buyer goes to the trial landing page. */
  const afterRegistration = (event: APIGatewayProxyEvent, subscriber: Subscriber) =>
    pages.seeOther(trialLandingUrl(subscriber) ?? registrationPageLocation(event, subscriber.identity.productCode));

  const submit = async (
    event: APIGatewayProxyEvent,
    subscriber: Subscriber,
    session: RegistrationSession,
  ): Promise<APIGatewayProxyResult> => {
    const productCode = subscriber.identity.productCode;
    const fields = formFields(event);
    // The page's form carries one: none, or several (which one would be the page's?), is not that form as drawn.
    const formTokens = fields.getAll('formToken');
    const formToken = formTokens.length === 1 ? (formTokens[0] ?? '') : '';
    if (formToken === '') {
      logger.warn('Registration form submitted without its one session token', {
        subscriberId: subscriber.id,
        formTokens: formTokens.length,
      });
      return pages.problem('form-expired', productCode, {
        registerHref: registrationPageLocation(event, productCode),
      });
    }
    // A form drawn for another session: the browser arrived from Marketplace again since (in another tab), which gave it
    // a new session. Nothing is saved from it; the buyer's details are shown again, to be sent with this session's.
    const drawnForThisSession = formTokenMatches(session, formToken);
    const status = pageStatus(subscriber);
    if (!isOpen(status)) {
      logger.info('Registration form sent for a closed subscription; not saved', {
        subscriberId: subscriber.id,
        status,
      });
      return closed(subscriber, status, 409);
    }
    const validation = validateRegistration(
      Object.fromEntries(REGISTRATION_FIELDS.map((field) => [field, fields.getAll(field)])),
      settings.requiredFields,
    );
    if (subscriber.registration !== undefined) return afterEarlierRegistration(event, subscriber, validation);
    if (!drawnForThisSession) {
      logger.info('Registration form of an earlier session shown again to send', { subscriberId: subscriber.id });
      return pages.page(
        409,
        formPage(event, subscriber, session, {
          values: validation.valid ? validation.details : validation.values,
          errors: validation.valid ? {} : validation.errors,
          notice: FORM_OPENED_AGAIN,
        }),
      );
    }
    if (!validation.valid) {
      return pages.page(
        400,
        formPage(event, subscriber, session, { values: validation.values, errors: validation.errors }),
      );
    }
    const outcome = await dependencies.subscribers.completeRegistration(
      subscriber.id,
      validation.details,
      dependencies.clock.now(),
    );
    logger.info('Buyer registered', { subscriberId: subscriber.id, productCode, outcome });
    if (outcome === 'already-registered') {
      // Another submission got there first (a double click, or a second tab racing this one).
      const current = await dependencies.subscribers.get(subscriber.id);
      if (current !== undefined) return afterEarlierRegistration(event, current, validation);
    }
    return afterRegistration(event, subscriber);
  };

  /**
   * A form sent once the subscription is set up: the same details again (a resubmitted form, a double click) go on as
   * the first did; other details are not saved, and the page says so and shows what stands.
   */
  const afterEarlierRegistration = (
    event: APIGatewayProxyEvent,
    subscriber: Subscriber,
    validation: ReturnType<typeof validateRegistration>,
  ): APIGatewayProxyResult => {
    const registered = subscriber.registration?.details ?? {};
    const same =
      validation.valid && REGISTRATION_FIELDS.every((field) => validation.details[field] === registered[field]);
    if (same) return afterRegistration(event, subscriber);
    logger.info('Registration form sent after the subscription was set up; not saved', { subscriberId: subscriber.id });
    return pages.page(
      409,
      alreadyRegisteredPage(
        pages.branding(subscriber.identity.productCode),
        registered,
        pageStatus(subscriber) === 'active' ? 'active' : 'pending',
        signInUrl(subscriber),
      ),
    );
  };

  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    correlateWithApiRequest(logger, event);
    const productInAddress = productOf(event);
    if (event.httpMethod !== 'GET' && event.httpMethod !== 'POST') {
      return pages.problem('registration-method', undefined, {
        headers: { allow: 'GET, POST' },
        registerHref: registrationPageLocation(event, productInAddress),
      });
    }
    try {
      const cookie = sessionCookieValue(event, productInAddress);
      if (cookie.state === 'absent') return pages.problem('no-session');
      if (cookie.state === 'ambiguous') return pages.problem('several-sessions');
      const now = dependencies.clock.now();
      const session = await dependencies.sessions.find(cookie.value, now);
      const subscriber = session === undefined ? undefined : await dependencies.subscribers.get(session.subscriberId);
      if (session === undefined || subscriber === undefined) return pages.problem('session-expired');
      return event.httpMethod === 'GET' ? show(event, subscriber, session) : await submit(event, subscriber, session);
    } catch (error) {
      if (error instanceof BadRequestError) {
        // Only a form posted here can be too large: the buyer can shorten it, not start again from Marketplace.
        const problem = error.reason === 'too-large' ? 'form-too-large' : problemForBadRequest(error);
        return pages.problem(problem, undefined, { registerHref: registrationPageLocation(event, productInAddress) });
      }
      return problemForUnexpectedError(error, pages, logger);
    }
  };
}
