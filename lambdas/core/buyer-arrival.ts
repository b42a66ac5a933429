/**
 * A buyer arrives from Marketplace with a registration token: resolve it (or recall its resolution, for a token sent
 * again), record the subscriber (an upsert that touches only what arrival owns), and open a registration session. The
 * token is used for `ResolveCustomer` and for nothing else.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from './clock.ts';
import type { ProductListing } from './environment.ts';
import { RegistrationTokenRejectedError, type ResolvedCustomer } from './marketplace-customers.ts';
import {
  RECALLED_WITHOUT_MARKETPLACE_MINUTES,
  type RememberedResolution,
  type ResolvedTokens,
} from './resolved-tokens.ts';
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
  readonly resolvedTokens: Pick<ResolvedTokens, 'remember' | 'recall'>;
  /** Told when a token's resolution could not be remembered or recalled: the arrival goes on without. */
  readonly logger: { warn(message: string, details: Record<string, unknown>): void };
  /** The pause between looks for a token that a request under way may be resolving; tests make it instant. */
  readonly sleep?: (milliseconds: number) => Promise<unknown>;
  readonly subscribers: SubscriberRepository;
  readonly sessions: RegistrationSessions;
  readonly products: readonly ProductListing[];
  readonly clock: Clock;
}

/** The subscriber's identity: keyed as its product's identity model says, with every other identifier kept. */
function identityOf(resolved: ResolvedCustomer, product: ProductListing): SubscriberIdentity {
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
  const { resolved, resolvedAt, alreadyRemembered } = await resolveOrRecall(dependencies, registrationToken);
  const product = dependencies.products.find((candidate) => candidate.code === resolved.productCode);
  if (product === undefined) throw new UnknownProductError(resolved.productCode);
  const identity = identityOf(resolved, product);
  // Before anything else is written: a buyer whose arrival fails after this point may send the token again.
  if (!alreadyRemembered) await remember(dependencies, registrationToken, resolved, resolvedAt);
  // A token sent again is the arrival it was the first time, not a later one (which may read as a buyer back after an
  // end); the session, though, is new and lasts from now.
  const subscriber = await dependencies.subscribers.recordResolution(identity, offerType, resolvedAt);
  const session = await dependencies.sessions.create(subscriber.id, dependencies.clock.now());
  return { subscriber, session };
}

/**
 * How long a token Marketplace calls expired is looked for among those resolved here: long enough for a request that
 * resolved it a moment earlier (the first of a double-click, still under way) to have remembered it.
 */
const RECALL_WAIT_MS = 2_000;
const RECALL_INTERVAL_MS = 250;

/**
 * The token's resolution: remembered, for a token resolved here in the last minutes, or Marketplace's. A token resolved
 * here longer ago is Marketplace's to answer for again, but its arrival is still the first one's. A token Marketplace
 * calls expired may be one that a request still under way has just resolved, so it is looked for a little longer.
 */
async function resolveOrRecall(
  dependencies: ArrivalDependencies,
  registrationToken: string,
): Promise<RememberedResolution & { readonly alreadyRemembered: boolean }> {
  const { resolve, clock } = dependencies;
  const remembered = await recall(dependencies, registrationToken);
  if (remembered !== undefined && isRecent(remembered, clock.now())) return { ...remembered, alreadyRemembered: true };
  try {
    const resolved = await resolve(registrationToken);
    return { resolved, resolvedAt: remembered?.resolvedAt ?? clock.now(), alreadyRemembered: remembered !== undefined };
  } catch (error) {
    if (!(error instanceof RegistrationTokenRejectedError && error.reason === 'expired')) throw error;
    const pause = dependencies.sleep ?? sleep;
    for (let waited = 0; waited < RECALL_WAIT_MS; waited += RECALL_INTERVAL_MS) {
      await pause(RECALL_INTERVAL_MS);
      const resolvedMeanwhile = await recall(dependencies, registrationToken);
      if (resolvedMeanwhile !== undefined && isRecent(resolvedMeanwhile, clock.now())) {
        return { ...resolvedMeanwhile, alreadyRemembered: true };
      }
    }
    throw error;
  }
}

const isRecent = ({ resolvedAt }: RememberedResolution, now: Date) =>
  now.getTime() - resolvedAt.getTime() < RECALLED_WITHOUT_MARKETPLACE_MINUTES * 60_000;

/** A remembered resolution, if one can be read: the memory is a help for a token sent again, never a condition. */
async function recall(
  dependencies: ArrivalDependencies,
  registrationToken: string,
): Promise<RememberedResolution | undefined> {
  try {
    return await dependencies.resolvedTokens.recall(registrationToken, dependencies.clock.now());
  } catch (error) {
    // A database that does not answer would fail the arrival's writes too, after more waiting: give up now, before
    // Marketplace is asked to resolve (and so use up) the token, and the buyer tries again with it.
    if (databaseDidNotAnswer(error)) throw error;
    dependencies.logger.warn('A resolved registration token could not be looked up', { error: String(error) });
    return undefined;
  }
}

async function remember(
  dependencies: ArrivalDependencies,
  registrationToken: string,
  resolved: ResolvedCustomer,
  resolvedAt: Date,
): Promise<void> {
  try {
    await dependencies.resolvedTokens.remember(registrationToken, resolved, resolvedAt);
  } catch (error) {
    // The arrival's own write would wait as long again and fail the same way: within the function's time, the buyer is
    // told to try again.
    if (databaseDidNotAnswer(error)) throw error;
    // Marketplace has taken the token: the buyer arrives now, and only a token sent again misses the memory.
    dependencies.logger.warn('A resolved registration token could not be remembered', { error: String(error) });
  }
}

/** The SDK gave up waiting for DynamoDB (`TimeoutError`): the table is not there to help, or to write to. */
function databaseDidNotAnswer(error: unknown): boolean {
  return error instanceof Error && error.name === 'TimeoutError';
}
