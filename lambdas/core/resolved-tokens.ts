/**
 * What Marketplace answered for a registration token, remembered for a few minutes under a digest of the token (never
 * the token itself). A browser sends the same token again on a double-click, on a reload of a "try again" page, or when
 * the first answer was lost on its way back; Marketplace may answer a token's second resolution with
 * `ExpiredTokenException` ("the buyer resubmitted the token"), which would leave a buyer who did nothing wrong on the
 * expired-link page. A remembered resolution lets them arrive as the first request did.
 */
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ResolvedCustomer } from './marketplace-customers.ts';
import { digestOf, resolvedTokenKey } from './table-keys.ts';

/**
 * How long a resolution is remembered: long enough for a double-click, a reload or a "try again" a minute later; short,
 * as whoever holds the token (a browser's form-resubmission cache) may arrive with it for that long.
 */
export const REMEMBERED_MINUTES = 15;

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
          expiresAt: Math.ceil((now.getTime() + REMEMBERED_MINUTES * 60_000) / 1000),
        },
      }),
    );
  }

  /** The remembered resolution of a token, or `undefined` for one never resolved here or remembered too long ago. */
  async recall(registrationToken: string, now: Date): Promise<RememberedResolution | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: resolvedTokenKey(digestOf(registrationToken)),
        ConsistentRead: true,
      }),
    );
    // DynamoDB deletes expired items only eventually, so expiry is checked here; an item without one is not trusted.
    if (Item === undefined || typeof Item.expiresAt !== 'number' || Item.expiresAt * 1000 <= now.getTime()) {
      return undefined;
    }
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
