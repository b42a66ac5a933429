/**
 * A buyer arrives from Marketplace with a registration token: resolve it (or recall its resolution, for a token sent
 * again), record the subscriber (an upsert that touches only what arrival owns), and open a registration session. The
 * token is used for `ResolveCustomer` and for nothing else.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from './clock.ts';
import type { ProductListing } from './environment.ts';
import { RegistrationTokenRejectedError, type ResolvedCustomer } from './marketplace-customers.ts';
import type { ResolvedTokens } from './resolved-tokens.ts';
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
  readonly resolvedTokens: ResolvedTokens;
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
  const { resolved, recalled } = await resolveOrRecall(dependencies, registrationToken);
  const product = dependencies.products.find((candidate) => candidate.code === resolved.productCode);
  if (product === undefined) throw new UnknownProductError(resolved.productCode);
  const identity = identityOf(resolved, product);
  const now = dependencies.clock.now();
  // Before anything else is written: a buyer whose arrival fails after this point may send the token again.
  if (!recalled) await dependencies.resolvedTokens.remember(registrationToken, resolved, now);
  const subscriber = await dependencies.subscribers.recordResolution(identity, offerType, now);
  const session = await dependencies.sessions.create(subscriber.id, now);
  return { subscriber, session };
}

/**
 * How long a token Marketplace calls expired is looked for among those resolved here: long enough for a request that
 * resolved it a moment earlier (the first of a double-click, still under way) to have remembered it.
 */
const RECALL_WAIT_MS = 2_000;
const RECALL_INTERVAL_MS = 250;

/**
 * The token's resolution: remembered, for a token resolved here before, or Marketplace's. A token Marketplace calls
 * expired may be one that a request still under way has just resolved, so it is looked for a little longer.
 */
async function resolveOrRecall(
  dependencies: ArrivalDependencies,
  registrationToken: string,
): Promise<{ resolved: ResolvedCustomer; recalled: boolean }> {
  const { resolve, resolvedTokens, clock } = dependencies;
  const remembered = await resolvedTokens.recall(registrationToken, clock.now());
  if (remembered !== undefined) return { resolved: remembered, recalled: true };
  try {
    return { resolved: await resolve(registrationToken), recalled: false };
  } catch (error) {
    if (!(error instanceof RegistrationTokenRejectedError && error.reason === 'expired')) throw error;
    for (let waited = 0; waited < RECALL_WAIT_MS; waited += RECALL_INTERVAL_MS) {
      await sleep(RECALL_INTERVAL_MS);
      const resolvedMeanwhile = await resolvedTokens.recall(registrationToken, clock.now());
      if (resolvedMeanwhile !== undefined) return { resolved: resolvedMeanwhile, recalled: true };
    }
    throw error;
  }
}
