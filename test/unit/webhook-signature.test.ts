import { createHmac } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import {
  DEFAULT_TOLERANCE_SECONDS,
  SIGNATURE_HEADER,
  signWebhook,
  verifyWebhookSignature,
} from '../../lambdas/core/webhook-signature.ts';
import { retryDelaySeconds } from '../../lambdas/seller-notifications/webhook-handler.ts';

const SECRET = 'a3f1c0de9b8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a392817065f4e';
const BODY = '{"id":"evt-1","detail-type":"Subscriber Active","detail":{"subscriberId":"legacy:prod-abc123:CUST1"}}';
/** A whole second, so that the signed timestamp is exactly this instant. */
const SIGNED_AT = new Date('2026-11-26T10:00:00.000Z');
const T = SIGNED_AT.getTime() / 1000;

function secondsAfter(at: Date, seconds: number): Date {
  return new Date(at.getTime() + seconds * 1000);
}

/** The signature part (`v1`) of a header, expected well-formed. */
function v1Of(header: string): string {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (match === null) throw new Error(`not a signature header: ${header}`);
  return match[2]!;
}

describe('signWebhook', () => {
  test('writes t=<unix seconds>,v1=<HMAC-SHA256 over "<t>.<body>" in lowercase hex>', () => {
    const expected = createHmac('sha256', SECRET).update(`${T}.${BODY}`).digest('hex');
    expect(signWebhook(SECRET, BODY, SIGNED_AT)).toBe(`t=${T},v1=${expected}`);
    expect(SIGNATURE_HEADER).toBe('x-marketplace-signature');
  });

  test('signs the time in whole seconds, rounded down', () => {
    expect(signWebhook(SECRET, BODY, new Date(SIGNED_AT.getTime() + 999))).toBe(signWebhook(SECRET, BODY, SIGNED_AT));
  });

  test('differs with the body, the secret and the time', () => {
    const header = signWebhook(SECRET, BODY, SIGNED_AT);
    expect(signWebhook(SECRET, `${BODY} `, SIGNED_AT)).not.toBe(header);
    expect(signWebhook(`${SECRET}0`, BODY, SIGNED_AT)).not.toBe(header);
    expect(v1Of(signWebhook(SECRET, BODY, secondsAfter(SIGNED_AT, 1)))).not.toBe(v1Of(header));
  });
});

describe('verifyWebhookSignature', () => {
  const header = signWebhook(SECRET, BODY, SIGNED_AT);

  test('accepts what signWebhook signed, at once and with the default tolerance', () => {
    expect(verifyWebhookSignature(SECRET, header, BODY, SIGNED_AT)).toBe(true);
    expect(verifyWebhookSignature(SECRET, header, BODY, SIGNED_AT, DEFAULT_TOLERANCE_SECONDS)).toBe(true);
    expect(DEFAULT_TOLERANCE_SECONDS).toBe(300);
  });

  test.each(['', '[]', 'héllo wörld ✓', 'line\r\nbreak', 'x'.repeat(100_000)])('round-trips the body %#', (body) => {
    expect(verifyWebhookSignature(SECRET, signWebhook(SECRET, body, SIGNED_AT), body, SIGNED_AT)).toBe(true);
  });

  test.each([
    ['exactly 300 s late', 300, true],
    ['300.999 s late', 300.999, false],
    ['301 s late', 301, false],
    ['exactly 300 s early (the sender clock ahead)', -300, true],
    ['301 s early', -301, false],
    ['a day late', 86_400, false],
  ])('with the default tolerance, a signature received %s is accepted: %s', (_name, seconds, accepted) => {
    expect(verifyWebhookSignature(SECRET, header, BODY, secondsAfter(SIGNED_AT, seconds))).toBe(accepted);
  });

  test('the tolerance is the one given', () => {
    expect(verifyWebhookSignature(SECRET, header, BODY, secondsAfter(SIGNED_AT, 60), 60)).toBe(true);
    expect(verifyWebhookSignature(SECRET, header, BODY, secondsAfter(SIGNED_AT, 61), 60)).toBe(false);
    expect(verifyWebhookSignature(SECRET, header, BODY, secondsAfter(SIGNED_AT, -61), 60)).toBe(false);
    expect(verifyWebhookSignature(SECRET, header, BODY, secondsAfter(SIGNED_AT, 3600), 3600)).toBe(true);
  });

  test.each([
    ['a changed character', BODY.replace('Active', 'Ending')],
    ['a trailing space', `${BODY} `],
    ['a trailing line feed', `${BODY}\n`],
    ['the body re-serialized', JSON.stringify(JSON.parse(BODY), null, 2)],
    ['an empty body', ''],
  ])('rejects a tampered body (%s)', (_name, body) => {
    expect(verifyWebhookSignature(SECRET, header, body, SIGNED_AT)).toBe(false);
  });

  test('rejects a signature made with another secret', () => {
    expect(verifyWebhookSignature(`${SECRET}0`, header, BODY, SIGNED_AT)).toBe(false);
    expect(verifyWebhookSignature('', header, BODY, SIGNED_AT)).toBe(false);
    expect(verifyWebhookSignature(SECRET, signWebhook('another secret', BODY, SIGNED_AT), BODY, SIGNED_AT)).toBe(false);
  });

  test('rejects a signature moved to another timestamp (a replay made to look recent)', () => {
    const later = secondsAfter(SIGNED_AT, 3600);
    const moved = `t=${later.getTime() / 1000},v1=${v1Of(header)}`;
    expect(verifyWebhookSignature(SECRET, moved, BODY, later)).toBe(false);
  });

  // A timestamp that is not a whole number must be refused for what it is, not merely because the HMAC differs: NaN
  // compares false with everything, so it would slip through the tolerance check, never to expire.
  test.each([
    ['not a number', 'soon', 'NaN'],
    ['with a fraction', `${T}.5`, `${T}.5`],
  ])('rejects a timestamp %s even when the signature covers it', (_name, t, signed) => {
    const forged = `t=${t},v1=${createHmac('sha256', SECRET).update(`${signed}.${BODY}`).digest('hex')}`;
    expect(verifyWebhookSignature(SECRET, forged, BODY, SIGNED_AT)).toBe(false);
  });

  const v1 = v1Of(header);
  test.each([
    ['undefined', undefined],
    ['empty', ''],
    ['a comma alone', ','],
    ['missing t', `v1=${v1}`],
    ['missing v1', `t=${T}`],
    ['an empty t', `t=,v1=${v1}`],
    ['an empty v1', `t=${T},v1=`],
    ['a t that is not a number', `t=soon,v1=${v1}`],
    ['a t with a fraction', `t=${T}.5,v1=${v1}`],
    ['a t in milliseconds', `t=${T * 1000},v1=${v1}`],
    ['a v1 that is not hex', `t=${T},v1=${'g'.repeat(64)}`],
    ['a v1 in uppercase hex', `t=${T},v1=${v1.toUpperCase()}`],
    ['a v1 one digit short', `t=${T},v1=${v1.slice(0, 63)}`],
    ['a v1 one digit long', `t=${T},v1=${v1}0`],
    ['a v1 one byte short', `t=${T},v1=${v1.slice(0, 62)}`],
    ['a v1 one byte long', `t=${T},v1=${v1}00`],
    ['a v1 of an odd length with a valid prefix', `t=${T},v1=${v1}0a1`],
    ['a v1 in base64', `t=${T},v1=${Buffer.from(v1, 'hex').toString('base64')}`],
    ['another version only', `t=${T},v0=${v1}`],
    ['semicolons for commas', `t=${T};v1=${v1}`],
    ['a space before =', `t =${T},v1=${v1}`],
    ['a space after =', `t=${T},v1= ${v1}`],
    ['a space inside v1', `t=${T},v1=${v1.slice(0, 32)} ${v1.slice(32)}`],
    ['a colon for =', `t:${T},v1:${v1}`],
  ])('rejects a malformed header (%s) without throwing', (_name, malformed) => {
    expect(verifyWebhookSignature(SECRET, malformed, BODY, SIGNED_AT)).toBe(false);
  });

  // What the implementation tolerates, pinned so that a change to it is deliberate: each field is trimmed, the order
  // does not matter, unknown fields are ignored, and of a repeated field the last counts.
  test.each([
    ['the fields in the other order', `v1=${v1},t=${T}`],
    ['spaces around the fields', ` t=${T} ,  v1=${v1} `],
    ['a space after the comma', `t=${T}, v1=${v1}`],
    ['an unknown field', `t=${T},v1=${v1},v2=abc`],
    ['an earlier wrong v1', `t=${T},v1=${'0'.repeat(64)},v1=${v1}`],
  ])('accepts a valid signature with %s', (_name, variant) => {
    expect(verifyWebhookSignature(SECRET, variant, BODY, SIGNED_AT)).toBe(true);
  });

  test('of a repeated field the last counts: a wrong last v1 is rejected', () => {
    expect(verifyWebhookSignature(SECRET, `t=${T},v1=${v1},v1=${'0'.repeat(64)}`, BODY, SIGNED_AT)).toBe(false);
  });
});

describe('retryDelaySeconds', () => {
  test.each([
    [0, 30],
    [1, 30],
    [2, 60],
    [3, 120],
    [4, 240],
    [5, 480],
    [6, 960],
    [7, 1920],
    [8, 3600],
    [9, 3600],
    [10, 0],
    [10_000, 0],
  ])('after %i receives, waits %i s', (receiveCount, seconds) => {
    expect(retryDelaySeconds(receiveCount)).toBe(seconds);
  });

  test('the ten attempts span about three hours, and the last failure goes to the dead-letter queue at once', () => {
    const waits = Array.from({ length: 10 }, (_, index) => retryDelaySeconds(index + 1));
    expect(waits.at(-1)).toBe(0);
    expect(waits.reduce((sum, wait) => sum + wait, 0)).toBe(3 * 3600 + 3 * 60 + 30);
  });

  test('never shrinks from one attempt to the next before the last, and stays within 30 s and an hour', () => {
    let previous = 0;
    for (let receiveCount = 0; receiveCount < 10; receiveCount += 1) {
      const delay = retryDelaySeconds(receiveCount);
      expect(delay).toBeGreaterThanOrEqual(Math.max(previous, 30));
      expect(delay).toBeLessThanOrEqual(3600);
      expect(Number.isInteger(delay)).toBe(true);
      previous = delay;
    }
  });
});
