import type { MarketplaceMeteringServiceException } from '@aws-sdk/client-marketplace-metering';

/** What an AWS SDK v3 client throws for a service error. */
export interface SdkError extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: MarketplaceMeteringServiceException['$metadata'];
}

/** The error `call` is rejected with; fails the test if it resolves. */
export async function rejectionOf(call: Promise<unknown>): Promise<SdkError> {
  try {
    await call;
  } catch (error) {
    return error as SdkError;
  }
  throw new Error('expected the call to be rejected, but it resolved');
}
