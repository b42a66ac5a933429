/**
 * Registration sessions: what the browser carries from the fulfillment URL to the registration page instead of the
 * Marketplace token. A session is a random, unguessable id in a cookie; the table keeps only its SHA-256 digest, the
 * subscriber it identifies (nothing else), its expiry, and the anti-forgery token the registration form must echo.
 */
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { digestOf, timeToLiveFrom, sessionKey, unexpiredUntil } from './table-keys.ts';

export interface NewSession {
  /** The cookie value. Never stored. */
  readonly sessionId: string;
  readonly expiresAt: Date;
}

export interface RegistrationSession {
  readonly subscriberId: string;
  readonly formToken: string;
  readonly expiresAt: Date;
}

/** 32 random bytes, base64url. */
const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export class RegistrationSessions {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly lifetimeMinutes: number,
  ) {}

  async create(subscriberId: string, now: Date): Promise<NewSession> {
    const sessionId = randomBytes(32).toString('base64url');
    const expiresAt = new Date(now.getTime() + this.lifetimeMinutes * 60_000);
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...sessionKey(digestOf(sessionId)),
          subscriberId,
          formToken: randomBytes(32).toString('base64url'),
          createdAt: now.toISOString(),
          ...timeToLiveFrom(expiresAt),
        },
      }),
    );
    return { sessionId, expiresAt };
  }

  /** The live session a cookie value names, or `undefined` for junk, unknown and expired ones alike. */
  async find(sessionId: string, now: Date): Promise<RegistrationSession | undefined> {
    if (!SESSION_ID_PATTERN.test(sessionId)) return undefined;
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: sessionKey(digestOf(sessionId)), ConsistentRead: true }),
    );
    const expiresAt = unexpiredUntil(Item, now);
    if (Item === undefined || expiresAt === undefined) return undefined;
    return {
      subscriberId: Item.subscriberId as string,
      formToken: Item.formToken as string,
      expiresAt,
    };
  }
}

/** Whether a submitted anti-forgery token is the session's, compared in constant time. */
export function formTokenMatches(session: RegistrationSession, submitted: string | undefined): boolean {
  if (submitted === undefined) return false;
  const expected = Buffer.from(session.formToken);
  const actual = Buffer.from(submitted);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
