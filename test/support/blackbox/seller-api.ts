/**
 * The backend's API as the seller's app calls it: `POST /usage` and the access check, SigV4-signed as IAM requires
 * (locally, with the local stack's secret).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchSigned } from '../../../local/http/signed-fetch.ts';

export interface UsageEvent {
  readonly subscriberId: string;
  readonly dimension: string;
  readonly quantity: number;
  /** ISO 8601. */
  readonly timestamp: string;
  readonly eventId?: string;
  readonly tags?: Readonly<Record<string, string>>;
}

export type UsageResult =
  | { readonly status: 'accepted'; readonly hour: string; readonly carriedFrom?: string }
  | { readonly status: 'duplicate' }
  | { readonly status: 'conflict'; readonly message: string }
  | { readonly status: 'rejected'; readonly reason: string; readonly message: string };

export interface SubscriberAccess {
  readonly subscriberId: string;
  readonly status: string;
  readonly finalMeteringDeadline?: string;
}

/** A 503 recorded nothing; the call is sent again this many times before the test gives up. */
const UNAVAILABLE_RESENDS = 10;

/** Records `events` (at most 50), resending the call while the API answers 503; one result per event, in order. */
export async function postUsage(apiUrl: string, events: readonly UsageEvent[]): Promise<UsageResult[]> {
  for (let attempt = 0; ; attempt++) {
    const response = await fetchSigned(`${apiUrl}/usage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ events }),
    });
    const body = await response.text();
    if (response.status === 503 && attempt < UNAVAILABLE_RESENDS) {
      await sleep(100 * 2 ** Math.min(attempt, 4));
      continue;
    }
    if (response.status !== 200) throw new Error(`POST /usage answered ${response.status}: ${body}`);
    const { results } = JSON.parse(body) as { results: UsageResult[] };
    if (results.length !== events.length) {
      throw new Error(`POST /usage answered ${results.length} results for ${events.length} events: ${body}`);
    }
    return results;
  }
}

/** The access check; `undefined` while the backend does not know the subscriber (404). */
export async function subscriberAccess(apiUrl: string, subscriberId: string): Promise<SubscriberAccess | undefined> {
  const response = await fetchSigned(`${apiUrl}/subscribers/${encodeURIComponent(subscriberId)}`);
  if (response.status === 404) return undefined;
  if (response.status !== 200)
    throw new Error(`the access check answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as SubscriberAccess;
}
