/**
 * A buyer arrives from Marketplace with a registration token: resolve it, record the subscriber (an upsert that
 * touches only what arrival owns), and open a registration session. The token is used for `ResolveCustomer` and
 * for nothing else.
 */
import type { Clock } from './clock.ts';
import type { NewSession, RegistrationSessions } from './registration-sessions.ts';
import type { SubscriberRepository } from './subscriber-repository.ts';
import type { OfferType, Subscriber, SubscriberIdentity } from './subscriber.ts';

/** The token resolved to a product this deployment does not sell (a listing pointing at the wrong backend). */
export class UnknownProduct extends Error {
  override readonly name = 'UnknownProduct';

  constructor(readonly productCode: string) {
    super(`Product ${productCode} is not configured here`);
  }
}

export interface ArrivalDependencies {
  readonly resolve: (registrationToken: string) => Promise<SubscriberIdentity>;
  readonly subscribers: SubscriberRepository;
  readonly sessions: RegistrationSessions;
  readonly productCodes: ReadonlySet<string>;
  readonly clock: Clock;
}

export async function acceptBuyer(
  dependencies: ArrivalDependencies,
  registrationToken: string,
  offerType: OfferType,
): Promise<{ subscriber: Subscriber; session: NewSession }> {
  const identity = await dependencies.resolve(registrationToken);
  if (!dependencies.productCodes.has(identity.productCode)) throw new UnknownProduct(identity.productCode);
  const now = dependencies.clock.now();
  const subscriber = await dependencies.subscribers.recordResolution(identity, offerType, now);
  const session = await dependencies.sessions.create(subscriber.id, now);
  return { subscriber, session };
}
