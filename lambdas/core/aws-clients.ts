/**
 * The AWS SDK clients the functions use, made once per cold start. An endpoint is given only locally (DynamoDB Local,
 * the Marketplace simulator, the local event bus), with the local stack's region and credentials (`settings`); in AWS
 * the SDK's own endpoint, region and credential resolution applies.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { MarketplaceEntitlementServiceClient } from '@aws-sdk/client-marketplace-entitlement-service';
import { MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { MARKETPLACE_HOME_REGION } from '../../contracts/index.ts';
import type { AwsClientSettings } from './function-runtime.ts';

const endpoint = (url: string | undefined, settings: AwsClientSettings | undefined) => ({
  ...(url === undefined ? {} : { endpoint: url }),
  ...settings,
});

/** How long a DynamoDB call may take: its attempts, and what bounds each one (the SDK's Node.js request handler). */
export interface DynamoDbTimeouts {
  readonly maxAttempts: number;
  readonly requestHandler?: {
    readonly connectionTimeout: number;
    readonly requestTimeout: number;
    readonly throwOnRequestTimeout: boolean;
  };
}

/**
 * For a function someone waits on (a buyer's page, the access check): a database that stops answering fails each
 * attempt after 2 s with a `TimeoutError`, and three attempts end in about 6.5 s, well inside the function's own
 * timeout (10 s), so the handler answers its 503 with `Retry-After` rather than the function timing out into API
 * Gateway's 502. Not for recording usage: an attempt cut short may have written, and a plain `ADD` sent again would
 * count twice.
 */
export const DYNAMODB_TIMEOUTS_FOR_WAITING_CALLERS: DynamoDbTimeouts = {
  maxAttempts: 3,
  requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000, throwOnRequestTimeout: true },
};

/** For recording usage, which sends a request again itself only where that cannot count anything twice. */
export const DYNAMODB_SINGLE_ATTEMPT: DynamoDbTimeouts = { maxAttempts: 1 };

export function documentClient(
  endpointUrl?: string,
  settings?: AwsClientSettings,
  timeouts?: DynamoDbTimeouts,
): DynamoDBDocumentClient {
  const client = new DynamoDBClient({ ...endpoint(endpointUrl, settings), ...timeouts });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/**
 * Marketplace calls go to the configured Marketplace region, whatever region the function runs in. The metering run
 * asks for one attempt: it retries under its own rate limiter, and counts what it retried.
 */
export function meteringClient(
  region: string,
  endpointUrl?: string,
  maxAttempts = 4,
  settings?: AwsClientSettings,
): MarketplaceMeteringClient {
  return new MarketplaceMeteringClient({ ...endpoint(endpointUrl, settings), region, maxAttempts });
}

export function eventBridgeClient(endpointUrl?: string, settings?: AwsClientSettings): EventBridgeClient {
  return new EventBridgeClient(endpoint(endpointUrl, settings));
}

/** The Entitlement Service exists in us-east-1 only, wherever the function runs. */
export function entitlementClient(
  endpointUrl?: string,
  settings?: AwsClientSettings,
  maxAttempts = 5,
): MarketplaceEntitlementServiceClient {
  return new MarketplaceEntitlementServiceClient({
    ...endpoint(endpointUrl, settings),
    region: MARKETPLACE_HOME_REGION,
    maxAttempts,
  });
}
