/**
 * Signatures of the webhook calls to the seller's app: HMAC-SHA256 with the shared secret over the timestamp and the
 * exact body, sent as `x-marketplace-signature: t=<unix seconds>,v1=<hex>`. A receiver that checks the signature and
 * that the timestamp is recent rejects forgeries and replays (see docs/architecture/webhook.md for the receiving side).
 *
 * @example
 * const ok = verifyWebhookSignature(secret, request.headers['x-marketplace-signature'], rawBody, new Date());
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-marketplace-signature';

/** The event's id, the same on every retry of its call: what a receiver deduplicates on. */
export const EVENT_ID_HEADER = 'x-marketplace-event-id';

/** How far a signature's timestamp may be from the receiver's clock. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

function digest(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export function signWebhook(secret: string, body: string, at: Date): string {
  const timestamp = Math.floor(at.getTime() / 1000);
  return `t=${timestamp},v1=${digest(secret, timestamp, body)}`;
}

/** Whether `header` signs `body` with `secret`, at a time within `toleranceSeconds` of `now`. */
export function verifyWebhookSignature(
  secret: string,
  header: string | undefined,
  body: string,
  now: Date,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
): boolean {
  const parts = new Map(
    (header ?? '').split(',').map((part) => part.trim().split('=', 2) as [string, string | undefined]),
  );
  const timestamp = Number(parts.get('t'));
  const signature = parts.get('v1');
  if (!Number.isInteger(timestamp) || signature === undefined || !/^[0-9a-f]{64}$/.test(signature)) return false;
  if (Math.abs(now.getTime() / 1000 - timestamp) > toleranceSeconds) return false;
  return timingSafeEqual(Buffer.from(signature, 'hex'), Buffer.from(digest(secret, timestamp, body), 'hex'));
}
