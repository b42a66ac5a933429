import { randomBytes, randomUUID } from 'node:crypto';

/**
 * A small seeded PRNG (mulberry32). Fault injection draws from it so that a seed replays the same faults for the same
 * sequence of requests.
 */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Where the sequence is: a generator seeded with this continues it. */
  position(): number {
    return this.state;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

const lowerAlphanumeric = 'abcdefghijklmnopqrstuvwxyz0123456789';
const upperAlphanumeric = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function randomString(alphabet: string, length: number): string {
  const bytes = randomBytes(length);
  return Array.from(bytes, (byte) => alphabet[byte % alphabet.length]).join('');
}

/** Identifiers shaped like the real ones, so code that stores or parses them meets realistic values. */
export const ids = {
  requestId: (): string => randomUUID(),
  meteringRecordId: (): string => randomUUID(),
  eventId: (): string => randomUUID(),
  licenseId: (): string => `l-${randomBytes(16).toString('hex')}`,
  agreementId: (): string => `agmt-${randomString(lowerAlphanumeric, 25)}`,
  offerId: (): string => `offer-${randomString(lowerAlphanumeric, 13)}`,
  productId: (): string => `prod-${randomString(lowerAlphanumeric, 13)}`,
  productCode: (): string => randomString(lowerAlphanumeric, 25),
  customerIdentifier: (): string => randomString(upperAlphanumeric, 11),
  accountId: (): string => String(100_000_000_000 + (randomBytes(6).readUIntBE(0, 6) % 900_000_000_000)),
  /** Opaque, long, and full of `+`, `/` and `=`, like the real token: a form POST must URL-decode it correctly. */
  registrationToken: (): string => randomBytes(96).toString('base64'),
};
