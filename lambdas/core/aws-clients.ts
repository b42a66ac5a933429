/**
 * The AWS SDK clients the functions use, made once per cold start. An endpoint is given only locally (DynamoDB Local,
 * the Marketplace simulator, the local event bus); in AWS the SDK's own endpoint resolution applies.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { MarketplaceEntitlementServiceClient } from '@aws-sdk/client-marketplace-entitlement-service';
import { MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

const endpoint = (url: string | undefined) => (url === undefined ? {} : { endpoint: url });

export function documentClient(endpointUrl?: string): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(endpoint(endpointUrl)), {
    marshallOptions: { removeUndefinedValues: true },
  });
}

/**
 * Marketplace calls go to the configured Marketplace region, whatever region the function runs in. The metering run
 * asks for one attempt: it retries under its own rate limiter, and counts what it retried.
 */
export function meteringClient(region: string, endpointUrl?: string, maxAttempts = 4): MarketplaceMeteringClient {
  return new MarketplaceMeteringClient({ region, maxAttempts, ...endpoint(endpointUrl) });
}

export function eventBridgeClient(endpointUrl?: string): EventBridgeClient {
  return new EventBridgeClient(endpoint(endpointUrl));
}

/** The Entitlement Service exists in us-east-1 only, wherever the function runs. */
export function entitlementClient(endpointUrl?: string): MarketplaceEntitlementServiceClient {
  return new MarketplaceEntitlementServiceClient({ region: 'us-east-1', maxAttempts: 5, ...endpoint(endpointUrl) });
}
