/**
 * A buyer's arrival with a token sent again, with the memory of resolved tokens failing or slow: the parts of it that
 * DynamoDB Local and the simulator cannot be made to do on cue (the memory's writes failing, the pauses counted).
 * The whole arrival, with real parts, is in `test/integration/registration/fulfillment.test.ts`.
 */
import { describe, expect, test } from 'vitest';
import { acceptBuyer, type ArrivalDependencies } from '../../lambdas/core/buyer-arrival.ts';
import { RegistrationTokenRejectedError, type ResolvedCustomer } from '../../lambdas/core/marketplace-customers.ts';
import type { RegistrationSessions } from '../../lambdas/core/registration-sessions.ts';
import type { RememberedResolution } from '../../lambdas/core/resolved-tokens.ts';
import type { SubscriberRepository } from '../../lambdas/core/subscriber-repository.ts';
import type { Subscriber, SubscriberIdentity } from '../../lambdas/core/subscriber.ts';

const now = new Date('2026-12-06T10:00:00.000Z');
const resolved: ResolvedCustomer = {
  productCode: 'prod-1',
  licenseArn: 'arn:aws:license-manager::111122223333:license:l-1',
  customerAWSAccountId: '111122223333',
};

function arrival(overrides: Partial<ArrivalDependencies> = {}) {
  const warnings: string[] = [];
  const pauses: number[] = [];
  const arrivals: Date[] = [];
  const remembered = new Map<string, RememberedResolution>();
  const dependencies: ArrivalDependencies = {
    resolve: () => Promise.resolve(resolved),
    resolvedTokens: {
      remember: (token, customer, at) => {
        remembered.set(token, { resolved: customer, resolvedAt: at });
        return Promise.resolve();
      },
      recall: (token) => Promise.resolve(remembered.get(token)),
    },
    logger: { warn: (message) => warnings.push(message) },
    sleep: (milliseconds) => {
      pauses.push(milliseconds);
      return Promise.resolve();
    },
    subscribers: {
      recordResolution: (identity: SubscriberIdentity, _offerType: unknown, at: Date) => {
        arrivals.push(at);
        return Promise.resolve({ id: `license:${identity.licenseArn}`, identity } as unknown as Subscriber);
      },
    } as unknown as SubscriberRepository,
    sessions: {
      create: () => Promise.resolve({ sessionId: 'session', expiresAt: now }),
    } as unknown as RegistrationSessions,
    products: [{ code: 'prod-1', name: 'Product', identityModel: 'license' }],
    clock: { now: () => now },
    ...overrides,
  };
  return { dependencies, warnings, pauses, arrivals, remembered };
}

const expired = () => Promise.reject(new RegistrationTokenRejectedError('expired', 'request-1'));
const invalid = () => Promise.reject(new RegistrationTokenRejectedError('invalid', 'request-1'));

describe('a token Marketplace refuses', () => {
  test('as invalid: refused at once, with no wait for a request that may be resolving it', async () => {
    const { dependencies, pauses } = arrival({ resolve: invalid });
    await expect(acceptBuyer(dependencies, 'token', 'standard')).rejects.toMatchObject({ reason: 'invalid' });
    expect(pauses).toEqual([]);
  });

  test('as expired, never resolved here: looked for 2 s in steps of 250 ms, then refused', async () => {
    const { dependencies, pauses } = arrival({ resolve: expired });
    await expect(acceptBuyer(dependencies, 'token', 'standard')).rejects.toMatchObject({ reason: 'expired' });
    expect(pauses).toEqual(Array(8).fill(250));
  });

  test('as expired, while another request resolves it: arrives as that request did, at its time', async () => {
    const earlier = new Date('2026-12-06T09:59:59.000Z');
    const { dependencies, remembered, arrivals } = arrival({ resolve: expired });
    // The other request remembers it during the first pause.
    const sleep = () => Promise.resolve(remembered.set('token', { resolved, resolvedAt: earlier }));
    const { subscriber } = await acceptBuyer({ ...dependencies, sleep }, 'token', 'standard');
    expect(subscriber.id).toBe(`license:${resolved.licenseArn}`);
    expect(arrivals).toEqual([earlier]);
  });
});

describe('the memory of resolved tokens failing', () => {
  test('to remember: the buyer arrives all the same, and the failure is a warning', async () => {
    const { dependencies, warnings, arrivals } = arrival();
    dependencies.resolvedTokens.remember = () => Promise.reject(new Error('throttled'));
    await acceptBuyer(dependencies, 'token', 'standard');
    expect(arrivals).toEqual([now]);
    expect(warnings).toEqual(['A resolved registration token could not be remembered']);
  });

  test('to recall: Marketplace is asked, as for a token never seen', async () => {
    let resolutions = 0;
    const { dependencies, warnings, arrivals } = arrival({
      resolve: () => {
        resolutions++;
        return Promise.resolve(resolved);
      },
    });
    dependencies.resolvedTokens.recall = () => Promise.reject(new Error('throttled'));
    await acceptBuyer(dependencies, 'token', 'standard');
    expect(resolutions).toBe(1);
    expect(arrivals).toEqual([now]);
    expect(warnings).toEqual(['A resolved registration token could not be looked up']);
  });

  test('a token resolved here more than 15 minutes ago: Marketplace answers for it, and the arrival is the first', async () => {
    let resolutions = 0;
    const earlier = new Date(now.getTime() - 16 * 60_000);
    const { dependencies, remembered, arrivals } = arrival({
      resolve: () => {
        resolutions++;
        return Promise.resolve(resolved);
      },
    });
    remembered.set('token', { resolved, resolvedAt: earlier });
    await acceptBuyer(dependencies, 'token', 'standard');
    expect(resolutions).toBe(1);
    expect(arrivals).toEqual([earlier]);
    // Kept as it was: its time is the first arrival's.
    expect(remembered.get('token')?.resolvedAt).toEqual(earlier);
  });

  test('a token resolved here more than 15 minutes ago that Marketplace calls expired is refused', async () => {
    const { dependencies, remembered } = arrival({ resolve: expired });
    remembered.set('token', { resolved, resolvedAt: new Date(now.getTime() - 16 * 60_000) });
    await expect(acceptBuyer(dependencies, 'token', 'standard')).rejects.toMatchObject({ reason: 'expired' });
  });

  test('a token sent again is not resolved twice, and is the first arrival', async () => {
    let resolutions = 0;
    let clockNow = now;
    const { dependencies, arrivals } = arrival({
      resolve: () => {
        resolutions++;
        return Promise.resolve(resolved);
      },
      clock: { now: () => clockNow },
    });
    await acceptBuyer(dependencies, 'token', 'standard');
    clockNow = new Date(now.getTime() + 60_000);
    await acceptBuyer(dependencies, 'token', 'standard');
    expect(resolutions).toBe(1);
    expect(arrivals).toEqual([now, now]);
  });
});
