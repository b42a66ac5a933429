/**
 * The local stand-in for the seller's app shows who registered as the app learns it: from a genuine `Subscriber
 * Registered` webhook call it took, never from one it failed (down, by `PUT /faults`) or a forged one.
 */
import { expect, test } from 'vitest';
import { standInAppPage } from '../../local/stand-in-app-page.ts';
import type { WebhookCall } from '../../local/webhook-receiver.ts';

const registration = (company: string, overrides: Partial<WebhookCall>): WebhookCall => ({
  receivedAt: '2026-12-07T12:00:00.000Z',
  eventId: `event-${company}`,
  signature: 'valid',
  status: 204,
  body: {
    'detail-type': 'Subscriber Registered',
    detail: { subscriberId: 'legacy:prod:C1', contact: { company } },
  },
  ...overrides,
});

test('a registration call the app failed or refused as forged teaches it nothing; the one it took does', () => {
  const failed = registration('Failed Ltd', { status: 503 });
  const forged = registration('Forged Ltd', { signature: 'invalid', status: 401 });
  const nothingTaken = standInAppPage('/app/sign-in', [failed, forged]);
  expect(nothingTaken).toContain('No Subscriber Registered webhook call taken yet.');
  expect(nothingTaken).not.toMatch(/Failed Ltd|Forged Ltd/);

  const taken = standInAppPage('/app/sign-in', [registration('Taken Ltd', {}), failed, forged]);
  expect(taken).toContain('Taken Ltd');
  expect(taken).not.toMatch(/Failed Ltd|Forged Ltd/);
});
