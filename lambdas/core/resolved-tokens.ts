/**
 * What Marketplace answered for a registration token, kept under a digest of the token (never the token itself). A
 * browser sends the same token again on a double-click, on a reload of a "try again" page, or when the first answer was
 * lost on its way back; Marketplace may answer a token's second resolution with `ExpiredTokenException` ("the buyer
 * resubmitted the token"), which would leave a buyer who did nothing wrong on the expired-link page. A resolution
 * remembered lets them arrive as the first request did; kept for as long as a token lives, it also tells a token sent
 * again later (which Marketplace may still resolve) from a new arrival.
 */
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ResolvedCustomer } from './marketplace-customers.ts';
import { digestOf, timeToLiveFrom, resolvedTokenKey, unexpiredUntil } from './table-keys.ts';

/**
 * How long a resolution answers for Marketplace: long enough for a double-click, a reload or a "try again" a minute
 * later; short, as whoever holds the token (a browser's form-resubmission cache) may arrive with it for that long.
 */
export const RECALLED_WITHOUT_MARKETPLACE_MINUTES = 15;

/** How long a resolution is kept at all: a token's lifetime at Marketplace (AWS: 4 hours). */
const KEPT_HOURS = 4;

export interface RememberedResolution {
  readonly resolved: ResolvedCustomer;
  /** When Marketplace resolved it: the buyer's arrival, for a token sent again. */
  readonly resolvedAt: Date;
}

export class ResolvedTokens {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async remember(registrationToken: string, resolved: ResolvedCustomer, now: Date): Promise<void> {
    const { productCode, licenseArn, customerIdentifier, customerAWSAccountId } = resolved;
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...resolvedTokenKey(digestOf(registrationToken)),
          productCode,
          ...(licenseArn === undefined ? {} : { licenseArn }),
          ...(customerIdentifier === undefined ? {} : { customerIdentifier }),
          ...(customerAWSAccountId === undefined ? {} : { customerAWSAccountId }),
          resolvedAt: now.toISOString(),
          ...timeToLiveFrom(new Date(now.getTime() + KEPT_HOURS * 3_600_000)),
        },
      }),
    );
  }

  /** The resolution of a token resolved here within `KEPT_HOURS`, or `undefined`. */
  async recall(registrationToken: string, now: Date): Promise<RememberedResolution | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: resolvedTokenKey(digestOf(registrationToken)),
        ConsistentRead: true,
      }),
    );
    if (Item === undefined || unexpiredUntil(Item, now) === undefined) return undefined;
    const text = (name: string) => (typeof Item[name] === 'string' ? Item[name] : undefined);
    return {
      resolved: {
        productCode: Item.productCode as string,
        licenseArn: text('licenseArn'),
        customerIdentifier: text('customerIdentifier'),
        customerAWSAccountId: text('customerAWSAccountId'),
      },
      resolvedAt: new Date(Item.resolvedAt as string),
    };
  }
}
