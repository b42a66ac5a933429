/** What the functions' triggers deliver, as Lambda hands it to a handler (for tests that call a handler directly). */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { randomUUID } from 'node:crypto';

/** A handler behind API Gateway's REST proxy integration, as this project's HTTP functions are. */
export type HttpHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** A request as API Gateway's proxy integration passes it on. */
export function apiGatewayEvent(
  httpMethod: string,
  path: string,
  request: {
    readonly headers?: Record<string, string>;
    readonly body?: string;
    readonly pathParameters?: Record<string, string>;
  } = {},
): APIGatewayProxyEvent {
  return {
    httpMethod,
    path,
    resource: path,
    headers: request.headers ?? {},
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: request.pathParameters ?? null,
    stageVariables: null,
    body: request.body ?? null,
    isBase64Encoded: false,
    requestContext: { requestId: 'request-1' },
  } as unknown as APIGatewayProxyEvent;
}

/** An EventBridge event as Lambda receives it from a rule. */
export function eventBridgeEvent(source: string, detailType: string, detail: unknown) {
  return {
    version: '0',
    id: 'event-1',
    'detail-type': detailType,
    source,
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail,
  };
}

/** Messages of an SQS queue, as an event source mapping delivers them: one record per body, each its first receipt. */
export function sqsEvent(bodies: readonly string[], sentAt = new Date()): SQSEvent {
  return {
    Records: bodies.map((body): SQSRecord => ({
      messageId: randomUUID(),
      receiptHandle: 'local',
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(sentAt.getTime()),
        SenderId: 'local',
        ApproximateFirstReceiveTimestamp: String(sentAt.getTime()),
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:lifecycle',
      awsRegion: 'us-east-1',
    })),
  };
}
