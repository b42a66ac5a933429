/**
 * The notifications Marketplace sends a seller when a buyer's license changes, in the shapes AWS documents:
 * EventBridge events from `aws.agreement-marketplace` (every product) and, for legacy products, the SNS messages of the
 * `aws-mp-subscription-notification-<code>` and `aws-mp-entitlement-notification-<code>` topics in their SNS envelope.
 *
 * Events are published when the simulator's clock reaches their time (`unsubscribe-success` comes a grace period after
 * `unsubscribe-pending`), numbered in publication order, readable as a feed and pushed to subscribed URLs.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { MARKETPLACE_HOME_REGION } from '../contracts/index.ts';
import type { License, Product } from './marketplace.ts';
import { messageOf } from '../lambdas/core/errors.ts';
import { ids } from './random.ts';

export type EventFormat = 'eventbridge' | 'sns';

export type LifecycleChange = 'subscribed' | 'activated' | 'subscribe-failed' | 'entitlements-updated' | 'ended';

export interface PublishedEvent {
  readonly sequence: number;
  readonly format: EventFormat;
  readonly licenseId: string;
  readonly body: Record<string, unknown>;
}

export interface EventSubscription {
  readonly id: string;
  readonly url: string;
  readonly format: EventFormat;
}

export interface DeliveryStats {
  delivered: number;
  failed: number;
}

interface ScheduledEvent {
  readonly dueAt: number;
  readonly format: EventFormat;
  readonly licenseId: string;
  readonly body: Record<string, unknown>;
}

/**
 * Everything the events hold, for saving the simulator's state and restoring it. Deliveries in flight are not part of
 * it: an event being pushed when the simulator stops is not pushed again after a restart (it stays in the feed).
 */
export interface LifecycleEventsState {
  readonly scheduled: readonly ScheduledEvent[];
  readonly published: readonly PublishedEvent[];
  readonly subscriptions: readonly EventSubscription[];
  readonly deliveries: DeliveryStats;
}

/** The account that owns the Marketplace SNS topics, as in the topic ARNs AWS hands to sellers. */
const MARKETPLACE_SNS_ACCOUNT_ID = '287250355862';
const DELIVERY_ATTEMPTS = 4;
const DELIVERY_ATTEMPT_TIMEOUT_MS = 10_000;
/** The header of a push that carries the event's sequence in the feed (`GET /control/events`). */
export const SEQUENCE_HEADER = 'x-marketplace-simulator-sequence';

export class LifecycleEvents {
  private readonly scheduled: ScheduledEvent[] = [];
  private readonly published: PublishedEvent[] = [];
  private readonly subscriptions = new Map<string, EventSubscription & { queue: Promise<void> }>();
  /** Aborted on close, so that a dead receiver cannot hold a shutdown up with its retries. */
  private readonly closing = new AbortController();
  readonly deliveries: DeliveryStats = { delivered: 0, failed: 0 };

  constructor(
    private readonly sellerAccountId: () => string,
    private readonly finalMeteringGraceMs: () => number,
    private readonly retryDelayMs = 200,
    private readonly attemptTimeoutMs = DELIVERY_ATTEMPT_TIMEOUT_MS,
  ) {}

  /** Schedules the events AWS sends for `change`, at `at` (and later, for the end of the final-metering window). */
  record(change: LifecycleChange, license: License, product: Product, at: Date): void {
    const eventBridge = (detailType: string, detail: Record<string, unknown>, when = at) =>
      this.schedule('eventbridge', license, when, this.eventBridgeEnvelope(detailType, license, detail, when));
    const sns = (action: string, topic: 'subscription' | 'entitlement', when = at) => {
      if (license.identityModel === 'legacy') {
        this.schedule('sns', license, when, snsEnvelope(action, topic, license, when));
      }
    };
    const agreement = (detail: Record<string, unknown>) => ({ agreement: detail, ...this.parties(license) });
    const licenseDetail = this.licenseDetail(license, product);
    switch (change) {
      case 'subscribed':
        for (const role of ['Proposer', 'Manufacturer']) {
          eventBridge(`Purchase Agreement Created - ${role}`, agreement(agreementTerms(license, product, 'NEW')));
        }
        return;
      case 'activated':
        eventBridge('License Updated - Manufacturer', licenseDetail);
        this.replaceUnsubscribeSuccess(license, at);
        sns('subscribe-success', 'subscription');
        if (license.entitlements.length > 0) sns('entitlement-updated', 'entitlement');
        this.cancelExpiryNotifications(license, at);
        for (const expiry of expiriesAfter(license, at)) sns('entitlement-updated', 'entitlement', expiry);
        return;
      case 'subscribe-failed':
        this.cancelExpiryNotifications(license, at);
        sns('subscribe-fail', 'subscription');
        return;
      case 'entitlements-updated':
        for (const role of ['Proposer', 'Manufacturer']) {
          eventBridge(`Purchase Agreement Amended - ${role}`, agreement(agreementTerms(license, product, 'AMEND')));
        }
        eventBridge('License Updated - Manufacturer', licenseDetail);
        sns('entitlement-updated', 'entitlement');
        this.cancelExpiryNotifications(license, at);
        for (const expiry of expiriesAfter(license, at)) sns('entitlement-updated', 'entitlement', expiry);
        return;
      case 'ended': {
        // Ended events carry only the agreement's id and final status.
        const ended = agreement({ id: license.agreementId, status: license.endReason ?? 'CANCELLED' });
        for (const role of ['Proposer', 'Manufacturer']) eventBridge(`Purchase Agreement Ended - ${role}`, ended);
        eventBridge('License Deprovisioned - Manufacturer', licenseDetail);
        this.cancelExpiryNotifications(license, at);
        sns('unsubscribe-pending', 'subscription');
        sns('unsubscribe-success', 'subscription', new Date(at.getTime() + this.finalMeteringGraceMs()));
        return;
      }
    }
  }

  /**
   * A legacy buyer who subscribes again before an earlier subscription's `unsubscribe-success` has been sent: AWS
   * replaces that message by the new `subscribe-success`, so it never comes.
   */
  private replaceUnsubscribeSuccess(license: License, at: Date): void {
    if (license.identityModel !== 'legacy') return;
    const replaced = this.scheduled.filter((event) => {
      if (event.format !== 'sns' || event.licenseId === license.id || event.dueAt <= at.getTime()) return false;
      const message = JSON.parse(String(event.body.Message)) as Record<string, unknown>;
      return (
        message.action === 'unsubscribe-success' &&
        message['customer-identifier'] === license.customerIdentifier &&
        message['product-code'] === license.productCode
      );
    });
    for (const event of replaced) this.scheduled.splice(this.scheduled.indexOf(event), 1);
  }

  /**
   * The `entitlement-updated` messages scheduled for the license's entitlements expiring after `at`, before the
   * license's expiries are scheduled again: none is sent twice, nor for an entitlement replaced before it expired, nor
   * once the subscription has failed or ended.
   */
  private cancelExpiryNotifications(license: License, at: Date): void {
    const cancelled = this.scheduled.filter((event) => {
      if (event.format !== 'sns' || event.licenseId !== license.id || event.dueAt <= at.getTime()) return false;
      return (JSON.parse(String(event.body.Message)) as { action?: unknown }).action === 'entitlement-updated';
    });
    for (const event of cancelled) this.scheduled.splice(this.scheduled.indexOf(event), 1);
  }

  /** Publishes every scheduled event whose time has come, in time order; answers how many. */
  release(now: Date): number {
    const due = this.scheduled
      .filter((event) => event.dueAt <= now.getTime())
      .sort((left, right) => left.dueAt - right.dueAt);
    for (const event of due) {
      this.scheduled.splice(this.scheduled.indexOf(event), 1);
      const published: PublishedEvent = {
        sequence: this.published.length + 1,
        format: event.format,
        licenseId: event.licenseId,
        body: event.body,
      };
      this.published.push(published);
      for (const subscription of this.subscriptions.values()) {
        if (subscription.format === published.format) {
          subscription.queue = subscription.queue.then(() => this.deliver(subscription.url, published));
        }
      }
    }
    return due.length;
  }

  /** The sequence of the latest event published, of either format (0 before the first, and after a reset). */
  get lastSequence(): number {
    return this.published.length;
  }

  /** Published events after `afterSequence`, optionally of one format. */
  feed(afterSequence: number, format?: EventFormat): PublishedEvent[] {
    return this.published.filter(
      (event) => event.sequence > afterSequence && (format === undefined || event.format === format),
    );
  }

  subscribe(url: string, format: EventFormat): EventSubscription {
    const subscription = { id: ids.eventId(), url, format };
    this.subscriptions.set(subscription.id, { ...subscription, queue: Promise.resolve() });
    return subscription;
  }

  unsubscribe(id: string): boolean {
    return this.subscriptions.delete(id);
  }

  listSubscriptions(): EventSubscription[] {
    return [...this.subscriptions.values()].map(({ id, url, format }) => ({ id, url, format }));
  }

  state(): LifecycleEventsState {
    return {
      scheduled: this.scheduled,
      published: this.published,
      subscriptions: this.listSubscriptions(),
      deliveries: { ...this.deliveries },
    };
  }

  /** Takes up `state` in place of what these (new, empty) events hold. */
  restore(state: LifecycleEventsState): void {
    for (const event of state.scheduled) this.scheduled.push(event);
    for (const event of state.published) this.published.push(event);
    for (const { id, url, format } of state.subscriptions) {
      this.subscriptions.set(id, { id, url, format, queue: Promise.resolve() });
    }
    Object.assign(this.deliveries, state.deliveries);
  }

  /** Resolves once every delivery queued so far has succeeded or given up. */
  async drained(): Promise<void> {
    await Promise.all([...this.subscriptions.values()].map((subscription) => subscription.queue));
  }

  /** Stops delivering: what is in flight is abandoned, what is queued is dropped. */
  close(): void {
    this.closing.abort();
  }

  private schedule(format: EventFormat, license: License, at: Date, body: Record<string, unknown>): void {
    this.scheduled.push({ dueAt: at.getTime(), format, licenseId: license.id, body });
  }

  private async deliver(url: string, event: PublishedEvent): Promise<void> {
    const { signal } = this.closing;
    let failure = '';
    for (let attempt = 1; attempt <= DELIVERY_ATTEMPTS && !signal.aborted; attempt++) {
      failure = await this.push(url, event);
      if (failure === '') {
        this.deliveries.delivered++;
        return;
      }
      if (attempt < DELIVERY_ATTEMPTS)
        await sleep(this.retryDelayMs * 2 ** (attempt - 1), undefined, { signal }).catch(() => undefined);
    }
    if (signal.aborted) return;
    this.deliveries.failed++;
    console.warn(
      `simulator: gave up pushing event ${event.sequence} to ${withoutQuery(url)} after ${DELIVERY_ATTEMPTS} attempts ` +
        `(${failure}); it stays in the feed: GET /control/events?after=${event.sequence - 1}`,
    );
  }

  /** One attempt: `''` once the receiver took the event, else why not. */
  private async push(url: string, event: PublishedEvent): Promise<string> {
    // One controller per attempt with its own timer: on Node.js 20 an `AbortSignal.timeout` inside `AbortSignal.any`
    // can be collected before it fires, leaving a receiver that never answers to hold the subscription up for good.
    const attempt = new AbortController();
    const stop = () => attempt.abort(this.closing.signal.reason);
    this.closing.signal.addEventListener('abort', stop, { once: true });
    const timer = setTimeout(() => attempt.abort(), this.attemptTimeoutMs);
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          // Where the event stands in the feed, for a receiver that catches up from it after a stop.
          [SEQUENCE_HEADER]: String(event.sequence),
        },
        body: JSON.stringify(event.body),
        signal: attempt.signal,
      });
      await response.body?.cancel();
      return response.ok ? '' : `HTTP ${response.status}`;
    } catch (error) {
      // A refused or dropped connection is retried like a failed status.
      return attempt.signal.aborted ? `no answer within ${this.attemptTimeoutMs} ms` : messageOf(error);
    } finally {
      clearTimeout(timer);
      this.closing.signal.removeEventListener('abort', stop);
    }
  }

  private eventBridgeEnvelope(detailType: string, license: License, detail: Record<string, unknown>, at: Date) {
    return {
      version: '0',
      id: ids.eventId(),
      'detail-type': detailType,
      source: 'aws.agreement-marketplace',
      account: this.sellerAccountId(),
      time: isoSeconds(at),
      region: MARKETPLACE_HOME_REGION,
      resources: [`arn:aws:aws-marketplace::aws:agreement:${license.agreementId}`],
      detail: { requestId: ids.requestId(), catalog: 'AWSMarketplace', ...detail },
    };
  }

  private parties(license: License) {
    return {
      resaleAuthorization: null,
      acceptor: { accountId: license.customerAWSAccountId },
      proposer: { accountId: this.sellerAccountId() },
      offer: { id: license.offerId },
    };
  }

  private licenseDetail(license: License, product: Product): Record<string, unknown> {
    return {
      agreement: { id: license.agreementId },
      product: { code: product.code, id: product.productId },
      ...(license.licenseArn === undefined ? {} : { license: { arn: license.licenseArn } }),
      ...this.parties(license),
    };
  }
}

/**
 * When the license's entitlements expire, after `at`: AWS sends a legacy product's `entitlement-updated` for expiries
 * too, and the simulator then leaves the expired one out of `GetEntitlements`.
 */
function expiriesAfter(license: License, at: Date): Date[] {
  const times = license.entitlements
    .map((entitlement) => entitlement.expirationDate?.getTime())
    .filter((time): time is number => time !== undefined && time > at.getTime());
  return [...new Set(times)].map((time) => new Date(time));
}

function snsEnvelope(action: string, topic: 'subscription' | 'entitlement', license: License, at: Date) {
  const topicArn = `arn:aws:sns:${MARKETPLACE_HOME_REGION}:${MARKETPLACE_SNS_ACCOUNT_ID}:aws-mp-${topic}-notification-${license.productCode}`;
  const message =
    topic === 'subscription'
      ? {
          action,
          'customer-identifier': license.customerIdentifier,
          'product-code': license.productCode,
          'offer-identifier': license.offerId,
          isFreeTrialTermPresent: String(license.offerType === 'free-trial'),
        }
      : { action, 'customer-identifier': license.customerIdentifier, 'product-code': license.productCode };
  return {
    Type: 'Notification',
    MessageId: ids.eventId(),
    TopicArn: topicArn,
    Message: JSON.stringify(message),
    Timestamp: at.toISOString(),
    SignatureVersion: '1',
    Signature: randomBytes(256).toString('base64'),
    SigningCertURL: `https://sns.${MARKETPLACE_HOME_REGION}.amazonaws.com/SimpleNotificationService-simulator.pem`,
    UnsubscribeURL: `https://sns.${MARKETPLACE_HOME_REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${topicArn}:${ids.eventId()}`,
  };
}

/** The agreement as Created and Amended events describe it; pay-as-you-go subscriptions have no end date. */
function agreementTerms(license: License, product: Product, intent: 'NEW' | 'AMEND'): Record<string, unknown> {
  const start = license.activatedAt ?? license.createdAt;
  const contractEnd = new Date(start);
  contractEnd.setUTCFullYear(contractEnd.getUTCFullYear() + 1);
  return {
    id: license.agreementId,
    intent,
    status: 'ACTIVE',
    acceptanceTime: isoSeconds(license.createdAt),
    startTime: isoSeconds(start),
    ...(product.pricingModel === 'subscriptions' ? {} : { endTime: isoSeconds(contractEnd) }),
  };
}

function isoSeconds(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/** A receiver's URL as logged: a query may carry a secret. */
function withoutQuery(url: string): string {
  const parsed = URL.parse(url);
  return parsed === null ? "(the subscription's URL)" : `${parsed.origin}${parsed.pathname}`;
}
