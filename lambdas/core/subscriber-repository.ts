/**
 * Subscribers in DynamoDB. Three writers share one item and each owns its own attributes: the fulfillment URL (identity,
 * offer type, resolution times), the registration page (`registration`) and the lifecycle (`subscriptionStatus` and
 * what goes with it). Every write here is an `UpdateItem` that names only its own attributes, so that events and the
 * buyer may arrive in any order, any number of times, and nobody's data is overwritten.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { REGISTRATION_FIELDS } from '../../contracts/index.ts';
import {
  subscriberIdOf,
  subscriptionStatuses,
  type OfferType,
  type RegistrationDetails,
  type Subscriber,
  type SubscriberIdentity,
} from './subscriber.ts';
import { subscriberKey } from './table-keys.ts';
import { BackendError } from './errors.ts';
import { billablePeriod, type LifecycleFacts } from './lifecycle/subscription-state.ts';

/** Registration was asked for a subscriber that has no item (it was never resolved). */
export class SubscriberNotFoundError extends BackendError {
  override readonly name = 'SubscriberNotFoundError';
}

const storedRegistration = z.object({
  details: z.partialRecord(z.enum(REGISTRATION_FIELDS), z.string()),
  registeredAt: z.string(),
});

const storedBase = {
  subscriberId: z.string(),
  productCode: z.string(),
  offerType: z.enum(['standard', 'free-trial']),
  resolvedFirstAt: z.string(),
  resolvedLastAt: z.string(),
  registration: storedRegistration.optional(),
  // Owned by the lifecycle: a value this code does not know yet reads as unknown rather than breaking the pages.
  subscriptionStatus: subscriptionStatuses.optional().catch(undefined),
  statusChangedAt: z.string().optional().catch(undefined),
  lifecycle: z
    .object({
      activatedAt: z.iso.datetime().optional(),
      failedAt: z.iso.datetime().optional(),
      endRequestedAt: z.iso.datetime().optional(),
      endedAt: z.iso.datetime().optional(),
      startedAt: z.iso.datetime().optional(),
      firstEndAt: z.iso.datetime().optional(),
      resubscribable: z.literal(true).optional(),
      recentActivations: z.array(z.iso.datetime()).optional(),
      recentEndRequests: z.array(z.iso.datetime()).optional(),
      recentEnds: z.array(z.iso.datetime()).optional(),
    })
    .optional()
    .catch(undefined),
  customerIdentifier: z.string().optional(),
  licenseArn: z.string().optional(),
  customerAWSAccountId: z.string().optional(),
};

/** A subscriber item as the fulfillment URL leaves it (other writers add their own attributes, ignored here). */
const storedSubscriber = z.discriminatedUnion('identityModel', [
  z.object({
    ...storedBase,
    identityModel: z.literal('license'),
    licenseArn: z.string(),
    customerAWSAccountId: z.string(),
  }),
  z.object({
    ...storedBase,
    identityModel: z.literal('legacy'),
    customerIdentifier: z.string(),
  }),
]);

export class SubscriberRepository {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Records that Marketplace resolved a buyer's token: creates the subscriber or refreshes it, touching only what the
   * fulfillment URL owns. The offer is the first visit's: a later visit without the trial field does not undo a trial,
   * nor does one with it make a trial of a paid subscription, unless a legacy subscription had ended (or been asked to)
   * by then: that visit is the buyer subscribing again (a legacy subscriber keeps its id), and Marketplace gives an
   * account one trial per product, so the new subscription is not one, whatever the visit claims (unless Marketplace
   * has already said it is: a buyer who paid before, then took the trial).
   * An arrival at `at` before the latest one recorded (a token sent again, recorded at its first arrival) changes
   * nothing and answers the subscriber as it stands.
   */
  async recordResolution(identity: SubscriberIdentity, offerType: OfferType, at: Date): Promise<Subscriber> {
    const id = subscriberIdOf(identity);
    const identityAttributes = Object.fromEntries(
      Object.entries({
        subscriberId: id,
        identityModel: identity.model,
        productCode: identity.productCode,
        licenseArn: identity.licenseArn,
        customerIdentifier: identity.customerIdentifier,
        customerAWSAccountId: identity.customerAWSAccountId,
      }).filter((entry): entry is [string, string] => entry[1] !== undefined),
    );
    const names = Object.keys(identityAttributes);
    let Attributes: Record<string, unknown> | undefined;
    try {
      ({ Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: subscriberKey(id),
          // An arrival recorded later (another token's) stands: a token sent again is recorded at its first arrival.
          ConditionExpression: 'attribute_not_exists(#resolvedLastAt) OR #resolvedLastAt <= :at',
          UpdateExpression: [
            `SET ${names.map((name) => `#${name} = :${name}`).join(', ')}`,
            // The first claim stands: a trial comes before the paid offer, never after it, and the browser's field can
            // be added by anyone. Only Marketplace's word (the lifecycle) or a legacy subscription after an end changes it.
            '#offerType = if_not_exists(#offerType, :offerType)',
            '#resolvedFirstAt = if_not_exists(#resolvedFirstAt, :at)',
            '#resolvedLastAt = :at',
          ].join(', '),
          ExpressionAttributeNames: Object.fromEntries(
            [...names, 'offerType', 'resolvedFirstAt', 'resolvedLastAt'].map((name) => [`#${name}`, name]),
          ),
          ExpressionAttributeValues: {
            ...Object.fromEntries(names.map((name) => [`:${name}`, identityAttributes[name]])),
            ':offerType': offerType,
            ':at': at.toISOString(),
          },
          ReturnValues: 'ALL_NEW',
        }),
      ));
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const current = await this.get(id);
      if (current === undefined) throw new SubscriberNotFoundError(id, { cause: error });
      return current;
    }
    const lifecycle = Attributes?.lifecycle as
      { firstEndAt?: string; endRequestedAt?: string; activatedAt?: string } | undefined;
    const firstEndAt = lifecycle?.firstEndAt;
    // Only a legacy subscriber can be subscribed to again under its id: a license's visit after its end is the same
    // license, whose trial stays a trial. The trial was then an earlier subscription's, and an account gets one trial
    // per product, so the new subscription is paid, whatever the visit claims; unless Marketplace has already said that
    // the subscription activated since the latest end is the trial (a buyer who paid before, then took the trial).
    const trialOfNewSubscription =
      Attributes?.marketplaceOfferType === 'free-trial' &&
      lifecycle?.activatedAt !== undefined &&
      lifecycle.endRequestedAt !== undefined &&
      lifecycle.activatedAt >= lifecycle.endRequestedAt;
    const subscribedAgain =
      identity.model === 'legacy' &&
      Attributes?.offerType === 'free-trial' &&
      firstEndAt !== undefined &&
      firstEndAt <= at.toISOString() &&
      !trialOfNewSubscription;
    return subscribedAgain ? await this.recordPaidAfterEnd(id, at) : toSubscriber(Attributes);
  }

  /**
   * The offer of a subscription that followed an end (`recordResolution`): the paid one. The condition holds unless,
   * in between, Marketplace said the new subscription is a trial (its `subscribe-success` won the race with the visit)
   * or an operator rewrote the item's lifecycle: the offer is then left as it was.
   */
  private async recordPaidAfterEnd(id: string, at: Date): Promise<Subscriber> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: subscriberKey(id),
          UpdateExpression: 'SET #offerType = :offerType',
          ConditionExpression:
            '#lifecycle.#firstEndAt <= :at AND NOT (#marketplaceOfferType = :trial AND ' +
            '#lifecycle.#activatedAt >= #lifecycle.#endRequestedAt)',
          ExpressionAttributeNames: {
            '#offerType': 'offerType',
            '#marketplaceOfferType': 'marketplaceOfferType',
            '#lifecycle': 'lifecycle',
            '#firstEndAt': 'firstEndAt',
            '#endRequestedAt': 'endRequestedAt',
            '#activatedAt': 'activatedAt',
          },
          ExpressionAttributeValues: { ':offerType': 'standard', ':trial': 'free-trial', ':at': at.toISOString() },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toSubscriber(Attributes);
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const current = await this.get(id);
      if (current === undefined) throw new SubscriberNotFoundError(id, { cause: error });
      return current;
    }
  }

  async get(subscriberId: string): Promise<Subscriber | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: subscriberKey(subscriberId), ConsistentRead: true }),
    );
    return Item === undefined ? undefined : toSubscriber(Item);
  }

  /**
   * Stores the buyer's registration once. Answers `already-registered` when an earlier submission got there first (a
   * double click, a second tab), so the buyer sees the same confirmation either way.
   */
  async completeRegistration(
    subscriberId: string,
    details: RegistrationDetails,
    at: Date,
  ): Promise<'completed' | 'already-registered'> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: subscriberKey(subscriberId),
          UpdateExpression: 'SET #registration = :registration',
          ConditionExpression: 'attribute_exists(#subscriberId) AND attribute_not_exists(#registration)',
          ExpressionAttributeNames: { '#registration': 'registration', '#subscriberId': 'subscriberId' },
          ExpressionAttributeValues: { ':registration': { details, registeredAt: at.toISOString() } },
        }),
      );
      return 'completed';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      if ((await this.get(subscriberId)) === undefined) throw new SubscriberNotFoundError(subscriberId);
      return 'already-registered';
    }
  }
}

function toSubscriber(item: Record<string, unknown> | undefined): Subscriber {
  const stored = storedSubscriber.parse(item);
  const { productCode, licenseArn, customerIdentifier, customerAWSAccountId } = stored;
  const identity: SubscriberIdentity =
    stored.identityModel === 'license'
      ? {
          model: 'license',
          productCode,
          licenseArn: stored.licenseArn,
          customerAWSAccountId: stored.customerAWSAccountId,
          customerIdentifier,
        }
      : {
          model: 'legacy',
          productCode,
          customerIdentifier: stored.customerIdentifier,
          customerAWSAccountId,
          licenseArn,
        };
  return {
    id: stored.subscriberId,
    identity,
    offerType: stored.offerType,
    resolvedFirstAt: stored.resolvedFirstAt,
    resolvedLastAt: stored.resolvedLastAt,
    registration: stored.registration,
    subscriptionStatus: stored.subscriptionStatus,
    statusChangedAt: stored.statusChangedAt,
    ...periodOf(stored.lifecycle ?? {}),
  };
}

function periodOf(facts: LifecycleFacts): Pick<Subscriber, 'endedAt' | 'started' | 'failedAt'> {
  const { start, end } = billablePeriod(facts);
  return { endedAt: end?.toISOString(), started: start !== undefined, failedAt: facts.failedAt };
}
