/**
 * The local webhook receiver on its own, over HTTP: it checks signatures as the seller's app should, answers 401 to a
 * forged or stale call and 204 to a good one, keeps every call with its verdict, and fails calls on request.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { signWebhook } from '../../../lambdas/core/webhook-signature.ts';
import { startWebhookReceiver, type WebhookCall, type WebhookReceiver } from '../../../local/webhook-receiver.ts';

const SECRET = 'the-shared-secret';
let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret: SECRET });
});
afterAll(() => receiver.close());

let sent = 0;
/** Posts an event as the webhook function does, signed with `secret` at `signedAt`; answers the status and the record. */
async function post(options: { secret?: string; signedAt?: Date; tamper?: boolean; signature?: string | null } = {}) {
  const eventId = `event-${++sent}`;
  const body = JSON.stringify({ id: eventId, 'detail-type': 'Subscriber Activated', detail: { n: sent } });
  const signature =
    options.signature === undefined
      ? signWebhook(options.secret ?? SECRET, body, options.signedAt ?? new Date())
      : options.signature;
  const response = await fetch(receiver.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-marketplace-event-id': eventId,
      ...(signature === null ? {} : { 'x-marketplace-signature': signature }),
    },
    body: options.tamper ? body.replace('Activated', 'Ended') : body,
  });
  await response.body?.cancel();
  return { status: response.status, call: receiver.calls().find((call) => call.eventId === eventId) };
}

test('a call signed with the secret, just now, is taken (204) and kept with its verdict and body', async () => {
  const { status, call } = await post();
  expect(status).toBe(204);
  expect(call).toEqual({
    receivedAt: expect.stringMatching(/^\d{4}-/) as unknown,
    eventId: `event-${sent}`,
    signature: 'valid',
    status: 204,
    body: { id: `event-${sent}`, 'detail-type': 'Subscriber Activated', detail: { n: sent } },
  });
});

test('a forged call (another secret, a changed body, no signature) is refused with 401 and kept as invalid', async () => {
  for (const forged of [
    { secret: 'another-secret' },
    { tamper: true },
    { signature: null },
    { signature: 't=1,v1=00' },
  ]) {
    const { status, call } = await post(forged);
    expect(status).toBe(401);
    expect(call?.signature).toBe('invalid');
  }
});

test('a call signed too long ago (a replay) is refused with 401 and kept as stale', async () => {
  const { status, call } = await post({ signedAt: new Date(Date.now() - 10 * 60_000) });
  expect(status).toBe(401);
  expect(call).toEqual(expect.objectContaining({ signature: 'stale', status: 401 }));
});

test('PUT /faults fails the next genuine calls with 503 (a forged one is still refused); GET /events lists every call in order', async () => {
  const faults = await fetch(`${new URL(receiver.url).origin}/faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ calls: 2 }),
  });
  expect(faults.status).toBe(200);
  // The forged call uses up none of the failures meant to show the webhook's retries of genuine ones.
  const statuses = [
    (await post()).status,
    (await post({ secret: 'wrong' })).status,
    (await post()).status,
    (await post()).status,
  ];
  expect(statuses).toEqual([503, 401, 503, 204]);

  const answer = await fetch(receiver.eventsUrl);
  // The calls carry buyers' details: never cached.
  expect(answer.headers.get('cache-control')).toBe('no-store');
  const listed = (await answer.json()) as { calls: WebhookCall[] };
  expect(listed.calls).toEqual(receiver.calls());
  expect(listed.calls.slice(-4).map((call) => [call.signature, call.status])).toEqual([
    ['valid', 503],
    ['invalid', 401],
    ['valid', 503],
    ['valid', 204],
  ]);
});

test('a body nested deeper than it could be written back is kept as its text, and GET /events still lists it', async () => {
  const tooDeep = `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`;
  const response = await fetch(receiver.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-marketplace-event-id': 'deep' },
    body: tooDeep,
  });
  expect(response.status).toBe(401);
  const listed = await fetch(receiver.eventsUrl);
  expect(listed.status).toBe(200);
  const { calls } = (await listed.json()) as { calls: WebhookCall[] };
  expect(calls.find((call) => call.eventId === 'deep')?.body).toBe(tooDeep);
});

test('refuses faults it cannot understand, and methods and paths it does not serve', async () => {
  const origin = new URL(receiver.url).origin;
  const bad = await fetch(`${origin}/faults`, { method: 'PUT', body: '{"calls": -1}' });
  expect(bad.status).toBe(400);
  expect((await fetch(receiver.url)).status).toBe(405);
  expect((await fetch(`${origin}/elsewhere`, { method: 'POST', body: '{}' })).status).toBe(404);
});
