/**
 * `GET /subscribers/{id}` (IAM-authorized): the access check for the seller's app, as JSON. The id is the
 * subscriber id (`license:<LicenseArn>` or `legacy:<ProductCode>:<CustomerIdentifier>`), URL-encoded.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { Clock } from '../core/clock.ts';
import { correlateWithApiRequest } from '../core/api-request.ts';
import { jsonAnswer as json, tryAgainAnswer } from '../core/json-answer.ts';
import { subscriberAccess } from '../core/subscriber-access.ts';
import { SUBSCRIBER_ID_PATTERN } from '../core/subscriber.ts';
import { subscriberKey } from '../core/table-keys.ts';

export interface SubscriberAccessDependencies {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly finalMeteringGraceSeconds: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** DynamoDB refuses a longer partition key (ValidationException): such an id is the caller's error, not a 503. */
const MAX_PARTITION_KEY_BYTES = 2048;

function isSubscriberId(subscriberId: string): boolean {
  return (
    Buffer.byteLength(subscriberKey(subscriberId).pk, 'utf8') <= MAX_PARTITION_KEY_BYTES &&
    SUBSCRIBER_ID_PATTERN.test(subscriberId)
  );
}

export function createSubscriberAccessHandler(dependencies: SubscriberAccessDependencies) {
  const { logger } = dependencies;
  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    correlateWithApiRequest(logger, event);
    if (event.httpMethod !== 'GET') return json(405, { message: 'Use GET' }, { allow: 'GET' });
    const subscriberId = event.pathParameters?.id ?? '';
    if (!isSubscriberId(subscriberId)) {
      return json(400, { message: 'The id must be license:<LicenseArn> or legacy:<ProductCode>:<CustomerIdentifier>' });
    }
    try {
      const access = await subscriberAccess(
        dependencies.client,
        dependencies.tableName,
        subscriberId,
        dependencies.clock.now(),
        dependencies.finalMeteringGraceSeconds,
      );
      return access === undefined ? json(404, { message: 'No such subscriber' }) : json(200, access);
    } catch (error) {
      logger.error('Access check failed', { errorName: error instanceof Error ? error.name : 'unknown' });
      return tryAgainAnswer();
    }
  };
}
