/**
 * Resolving a buyer's registration token with Marketplace's `ResolveCustomer`. Throttling, 5xx and network errors are
 * retried by the SDK with jittered backoff (up to `maxAttempts`); what is still failing after that, or after the
 * deadline, is `MarketplaceUnavailableError`, which the buyer sees as "try again shortly". The token appears in no error
 * message and no log line: callers get typed errors that do not carry it.
 */
import {
  ExpiredTokenException,
  InvalidTokenException,
  ResolveCustomerCommand,
  type MarketplaceMeteringClient,
} from '@aws-sdk/client-marketplace-metering';
import { BackendError } from './errors.ts';

/** Marketplace refused the token: `invalid`, or `expired` (too old, or already used). */
export class RegistrationTokenRejectedError extends BackendError {
  override readonly name = 'RegistrationTokenRejectedError';

  constructor(
    readonly reason: 'invalid' | 'expired',
    readonly requestId: string | undefined,
    options?: ErrorOptions,
  ) {
    super(`Marketplace rejected the registration token as ${reason}`, options);
  }
}

/** Marketplace could not answer (throttled, failing, unreachable, too slow, or not enabled for this region). */
export class MarketplaceUnavailableError extends BackendError {
  override readonly name = 'MarketplaceUnavailableError';

  constructor(
    readonly failure: string,
    readonly requestId: string | undefined,
    options?: ErrorOptions,
  ) {
    super(`Marketplace could not resolve the token: ${failure}`, options);
  }
}

/** What `ResolveCustomer` answered: every identifier it gave (which ones depends on the product). */
export interface ResolvedCustomer {
  readonly productCode: string;
  readonly licenseArn?: string | undefined;
  readonly customerIdentifier?: string | undefined;
  readonly customerAWSAccountId?: string | undefined;
}

export interface ResolveOptions {
  /** Give up (and answer `MarketplaceUnavailableError`) after this long, retries included. */
  readonly deadlineMs: number;
}

export async function resolveCustomer(
  client: MarketplaceMeteringClient,
  registrationToken: string,
  options: ResolveOptions,
): Promise<ResolvedCustomer> {
  let output;
  try {
    output = await client.send(new ResolveCustomerCommand({ RegistrationToken: registrationToken }), {
      abortSignal: AbortSignal.timeout(options.deadlineMs),
    });
  } catch (error) {
    const requestId = (error as { $metadata?: { requestId?: string } }).$metadata?.requestId;
    const cause = { cause: error };
    if (error instanceof InvalidTokenException) throw new RegistrationTokenRejectedError('invalid', requestId, cause);
    if (error instanceof ExpiredTokenException) throw new RegistrationTokenRejectedError('expired', requestId, cause);
    throw new MarketplaceUnavailableError(error instanceof Error ? error.name : 'unknown error', requestId, cause);
  }
  const { ProductCode, LicenseArn, CustomerAWSAccountId, CustomerIdentifier } = output;
  if (!ProductCode) {
    throw new MarketplaceUnavailableError('ResolveCustomer answered no product code', output.$metadata.requestId);
  }
  // Empty strings mean "not given" (a license-model answer may carry an empty CustomerIdentifier).
  return {
    productCode: ProductCode,
    licenseArn: LicenseArn || undefined,
    customerIdentifier: CustomerIdentifier || undefined,
    customerAWSAccountId: CustomerAWSAccountId || undefined,
  };
}
