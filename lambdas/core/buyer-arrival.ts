/**
 * A buyer arrives from Marketplace with a registration token: resolve it, record the subscriber (an upsert that
 * touches only what arrival owns), and open a registration session. The token is used for `ResolveCustomer` and
 * for nothing else.
 */
import type { Clock } from './clock.ts';
import type { ProductListing } from './environment.ts';
import type { ResolvedCustomer } from './marketplace-customers.ts';
import type { NewSession, RegistrationSessions } from './registration-sessions.ts';
import type { SubscriberRepository } from './subscriber-repository.ts';
import type { OfferType, Subscriber, SubscriberIdentity } from './subscriber.ts';
import { BackendError } from './errors.ts';

/** The token resolved to a product this deployment does not sell (a listing pointing at the wrong backend). */
export class UnknownProductError extends BackendError {
  override readonly name = 'UnknownProductError';

  constructor(readonly productCode: string) {
    super(`Product ${productCode} is not configured here`);
  }
}

/**
 * Marketplace did not give the identifier the product's identity model keys on (a legacy product configured as a
 * license one, or the reverse).
 */
export class IdentityMismatchError extends BackendError {
  override readonly name = 'IdentityMismatchError';

  constructor(
    readonly productCode: string,
    readonly identityModel: ProductListing['identityModel'],
  ) {
    super(
      `ResolveCustomer gave no ${identityModel === 'license' ? 'LicenseArn' : 'CustomerIdentifier'} for ${productCode}`,
    );
  }
}

export interface ArrivalDependencies {
  readonly resolve: (registrationToken: string) => Promise<ResolvedCustomer>;
  readonly subscribers: SubscriberRepository;
  readonly sessions: RegistrationSessions;
  readonly products: readonly ProductListing[];
  readonly clock: Clock;
}

/** The subscriber's identity: keyed as its product's identity model says, with every other identifier kept. */
export function identityOf(resolved: ResolvedCustomer, product: ProductListing): SubscriberIdentity {
  const { productCode, licenseArn, customerIdentifier, customerAWSAccountId } = resolved;
  if (product.identityModel === 'license' && licenseArn !== undefined && customerAWSAccountId !== undefined) {
    return { model: 'license', productCode, licenseArn, customerAWSAccountId, customerIdentifier };
  }
  if (product.identityModel === 'legacy' && customerIdentifier !== undefined) {
    return { model: 'legacy', productCode, customerIdentifier, customerAWSAccountId, licenseArn };
  }
  throw new IdentityMismatchError(productCode, product.identityModel);
}

export async function acceptBuyer(
  dependencies: ArrivalDependencies,
  registrationToken: string,
  offerType: OfferType,
): Promise<{ subscriber: Subscriber; session: NewSession }> {
  const resolved = await dependencies.resolve(registrationToken);
  const product = dependencies.products.find((candidate) => candidate.code === resolved.productCode);
  if (product === undefined) throw new UnknownProductError(resolved.productCode);
  const identity = identityOf(resolved, product);
  const now = dependencies.clock.now();
  const subscriber = await dependencies.subscribers.recordResolution(identity, offerType, now);
  const session = await dependencies.sessions.create(subscriber.id, now);
  return { subscriber, session };
}
