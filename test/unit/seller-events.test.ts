import { expect, test } from 'vitest';
import { SELLER_EVENT } from '../../contracts/index.ts';
import { sellerEventsFor } from '../../lambdas/core/seller-events.ts';
import { licenseSubscriberItem } from '../support/subscriber-items.ts';

const subscriber = { ...licenseSubscriberItem, customerAWSAccountId: '123456789012' };
const types = (before: object | undefined, after: object | undefined) =>
  sellerEventsFor(before as Record<string, unknown>, after as Record<string, unknown>).map((event) => event.detailType);

test('each change that matters gives its event, once', () => {
  const active = { ...subscriber, subscriptionStatus: 'active', statusChangedAt: 't1', entitlements: [] };
  expect(types(subscriber, active)).toEqual([SELLER_EVENT.activated]);
  expect(types(active, active)).toEqual([]);
  const ending = { ...active, subscriptionStatus: 'ending', statusChangedAt: 't2', finalMeteringDeadline: 't3' };
  expect(sellerEventsFor(active, ending)).toEqual([
    {
      detailType: SELLER_EVENT.ending,
      detail: expect.objectContaining({ status: 'ending', finalMeteringDeadline: 't3', version: 't2' }) as unknown,
    },
  ]);
  expect(types(ending, { ...ending, subscriptionStatus: 'ended' })).toEqual([SELLER_EVENT.ended]);
  expect(types(subscriber, { ...subscriber, subscriptionStatus: 'failed' })).toEqual([SELLER_EVENT.failed]);
  expect(types(active, { ...active, entitlements: [{ dimension: 'seats', value: 5 }] })).toEqual([
    SELLER_EVENT.entitlementsChanged,
  ]);
});

test('entitlements are announced when they change: not the first empty fetch, not twice with an activation', () => {
  const seats = [{ dimension: 'seats', value: 5 }];
  expect(types(subscriber, { ...subscriber, entitlements: [] })).toEqual([]);
  expect(types(subscriber, { ...subscriber, entitlements: seats })).toEqual([SELLER_EVENT.entitlementsChanged]);
  const activated = { ...subscriber, subscriptionStatus: 'active', statusChangedAt: 't1', entitlements: seats };
  expect(sellerEventsFor(subscriber, activated)).toEqual([
    {
      detailType: SELLER_EVENT.activated,
      detail: expect.objectContaining({ status: 'active', entitlements: seats }) as unknown,
    },
  ]);
  expect(types(activated, { ...activated, entitlements: [] })).toEqual([SELLER_EVENT.entitlementsChanged]);
});

test('an activation told before entitlements could be read is followed by the first read, even an empty one', () => {
  const activeUnread = {
    ...subscriber,
    subscriptionStatus: 'active',
    statusChangedAt: 't1',
    entitlements: [],
    lifecycle: { activatedAt: 't1' },
  };
  const readEmpty = { ...activeUnread, entitlementsFetchedAt: 't2' };
  expect(sellerEventsFor(activeUnread, readEmpty)).toEqual([
    {
      detailType: SELLER_EVENT.entitlementsChanged,
      detail: expect.objectContaining({ entitlements: [], entitlementsFetchedAt: 't2', version: 't2' }) as unknown,
    },
  ]);
  // Read again with nothing changed: no event; ending, then read for the first time: the app is told.
  expect(types(readEmpty, { ...readEmpty, entitlementsFetchedAt: 't3' })).toEqual([]);
  const endingUnread = { ...activeUnread, subscriptionStatus: 'ending' };
  expect(types(endingUnread, { ...endingUnread, entitlementsFetchedAt: 't2' })).toEqual([
    SELLER_EVENT.entitlementsChanged,
  ]);
  // Never announced as active (pending, or ending from an end request heard of before any activation): an empty first
  // read still says nothing.
  expect(types(subscriber, { ...subscriber, entitlements: [], entitlementsFetchedAt: 't2' })).toEqual([]);
  const endingNeverActive = { ...subscriber, subscriptionStatus: 'ending', lifecycle: { endRequestedAt: 't1' } };
  expect(types(endingNeverActive, { ...endingNeverActive, entitlements: [], entitlementsFetchedAt: 't2' })).toEqual([]);
});

test('an activation says when its entitlements were read, so that a late delivery cannot pass for newer ones', () => {
  const active = { ...subscriber, subscriptionStatus: 'active', statusChangedAt: 't1' };
  const read = { ...active, entitlements: [{ dimension: 'seats', value: 5 }], entitlementsFetchedAt: 't0' };
  expect(sellerEventsFor(subscriber, read)[0]?.detail).toMatchObject({ entitlementsFetchedAt: 't0' });
  // Never read: none is said, rather than a time that would claim the empty list is Marketplace's word.
  expect(sellerEventsFor(subscriber, active)[0]?.detail).not.toHaveProperty('entitlementsFetchedAt');
});

test('a registration is announced when it appears, not on later writes; sessions and other items announce nothing', () => {
  const registered = { ...subscriber, registration: { details: { company: 'A' }, registeredAt: 't' } };
  expect(types(subscriber, registered)).toEqual([SELLER_EVENT.registered]);
  expect(types(registered, { ...registered, resolvedLastAt: 'later' })).toEqual([]);
  expect(types(undefined, { pk: 'SESSION#x', sk: 'SESSION', subscriberId: 'x' })).toEqual([]);
  expect(types(subscriber, undefined)).toEqual([]);
});

test('a legacy buyer registering on the way back to a subscription that failed or ended is announced as pending', () => {
  const legacy = {
    ...subscriber,
    pk: 'SUBSCRIBER#legacy:p:C1',
    subscriberId: 'legacy:p:C1',
    identityModel: 'legacy',
    customerIdentifier: 'C1',
    resolvedLastAt: '2026-11-26T12:00:00.000Z',
  };
  const registration = { details: { company: 'A' }, registeredAt: '2026-11-26T12:01:00.000Z' };
  const statusOfRegistration = (before: Record<string, unknown>) =>
    sellerEventsFor(before, { ...before, registration })[0]?.detail.status;
  const failed = { ...legacy, subscriptionStatus: 'failed', statusChangedAt: '2026-11-26T10:00:00.000Z' };
  const ended = {
    ...legacy,
    subscriptionStatus: 'ended',
    statusChangedAt: '2026-11-26T11:00:00.000Z',
    lifecycle: { activatedAt: '2026-11-26T09:00:00.000Z', endRequestedAt: '2026-11-26T10:00:00.000Z' },
  };
  expect(statusOfRegistration(failed)).toBe('pending');
  expect(statusOfRegistration(ended)).toBe('pending');
  // Not back since: the status stands; and a license's id is never subscribed to again.
  expect(statusOfRegistration({ ...failed, resolvedLastAt: '2026-11-26T09:00:00.000Z' })).toBe('failed');
  expect(statusOfRegistration({ ...failed, identityModel: 'license' })).toBe('failed');
});

test("Marketplace's word changing the offer after the registration is announced; a browser's claim is not", () => {
  const trial = {
    ...subscriber,
    subscriptionStatus: 'active',
    statusChangedAt: 't1',
    lifecycle: { activatedAt: 't1' },
    offerType: 'free-trial',
    marketplaceOfferType: 'free-trial',
    registration: { details: { company: 'A' }, registeredAt: 't0' },
  };
  const converted = {
    ...trial,
    statusChangedAt: 't2',
    lifecycle: { activatedAt: 't2' },
    offerType: 'standard',
    marketplaceOfferType: 'standard',
  };
  expect(sellerEventsFor(trial, converted)).toEqual([
    {
      detailType: SELLER_EVENT.offerChanged,
      detail: expect.objectContaining({ offerType: 'standard', offerConfirmedAt: 't2', version: 't2' }) as unknown,
    },
  ]);
  // Before the registration the app has been told no offer: `Subscriber Registered` will carry the one stored then.
  expect(types({ ...trial, registration: undefined }, { ...converted, registration: undefined })).toEqual([]);
  // Marketplace confirming the offer already stored changes nothing the app knows.
  expect(types({ ...trial, marketplaceOfferType: undefined }, trial)).toEqual([]);
  // A browser's claim alone.
  expect(types({ ...trial, offerType: 'standard' }, trial)).toEqual([]);
  // The buyer back on the paid offer before Marketplace says so: the browser's visit announces nothing, Marketplace's
  // word does, though the offer stored is already the one it names.
  const backOnPaidOffer = { ...trial, offerType: 'standard' };
  expect(types(trial, backOnPaidOffer)).toEqual([]);
  expect(types(backOnPaidOffer, converted)).toEqual([SELLER_EVENT.offerChanged]);
});
