/**
 * The event API Gateway's REST API (v1) proxy integration gives a Lambda function, built from a real HTTP request.
 *
 * Verified in the API Gateway developer guide ("Lambda proxy integrations", input format; "Important notes for REST
 * APIs"): `headers` and `queryStringParameters` hold the last value of a repeated name and the `multiValue*` fields
 * every value; header and query names are case-sensitive (two casings are two names); request parameters are
 * URL-decoded; a `;` in the query string splits it like `&`. From captured events (in the guide, and published by
 * users) and LocalStack's parity-tested implementation: `path` keeps the encoding the client sent, no
 * `Content-Length` or `Connection` header reaches the function, and `X-Forwarded-For`/`-Port`/`-Proto` and
 * `X-Amzn-Trace-Id` do.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { IncomingMessage } from 'node:http';
import { percentDecoded } from './percent-decoding.ts';
import type { RequestIds } from './request-ids.ts';
import type { MatchedRoute } from './routes.ts';
import { LOCAL_ACCOUNT_ID } from '../local-aws.ts';

/**
 * How request bodies reach the function, standing for the API's `binaryMediaTypes` setting. API Gateway base64-encodes
 * a body (and sets `isBase64Encoded`) when its Content-Type matches one of the API's binary media types, and passes it
 * as a UTF-8 string otherwise:
 * - `never`: no binary media types (API Gateway's default; binary bodies arrive mangled);
 * - `always`: `*\/*`, every body arrives base64-encoded;
 * - `binary`: every type but text (text/*, JSON, form data, XML and their `+json`/`+xml` kinds).
 * Deployed handlers see whichever the stack configures, so they should accept both.
 */
export type BodyEncoding = 'never' | 'always' | 'binary';

export interface RequestFacts {
  readonly request: IncomingMessage;
  readonly body: Buffer;
  /** The path below the stage, still percent-encoded. */
  readonly path: string;
  /** The raw query string, without the `?`. */
  readonly query: string;
  readonly stage: string;
  readonly route: MatchedRoute;
  readonly ids: RequestIds;
  readonly receivedAt: Date;
  readonly bodyEncoding: BodyEncoding;
  /** Who signed the request, on a method with IAM authorization. */
  readonly caller?: Caller | undefined;
}

/** An IAM-authorized caller, as far as the local gateway knows one: by its access key id. */
export interface Caller {
  readonly accessKey: string;
}

export function buildProxyEvent(facts: RequestFacts): APIGatewayProxyEvent {
  const { request, route, ids } = facts;
  const method = request.method ?? '';
  const sourceIp = (request.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  const headers = forwardedHeaders(request, sourceIp, ids.traceId);
  const query = queryParameters(facts.query);
  return {
    resource: route.resourcePath,
    path: facts.path,
    httpMethod: method,
    headers: lastValues(headers),
    multiValueHeaders: Object.fromEntries(headers),
    queryStringParameters: query.size === 0 ? null : lastValues(query),
    multiValueQueryStringParameters: query.size === 0 ? null : Object.fromEntries(query),
    pathParameters: route.pathParameters,
    stageVariables: null,
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: 'local',
      // Present without an authorizer only as undefined, which the JSON trip to the function removes, as in AWS.
      authorizer: undefined,
      domainName: request.headers.host ?? `${request.socket.localAddress}:${request.socket.localPort}`,
      extendedRequestId: ids.extendedRequestId,
      httpMethod: method,
      identity: {
        accessKey: facts.caller?.accessKey ?? null,
        accountId: facts.caller === undefined ? null : LOCAL_ACCOUNT_ID,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp,
        user: null,
        userAgent: request.headers['user-agent'] ?? null,
        userArn: null,
      },
      path: `/${facts.stage}${facts.path}`,
      protocol: `HTTP/${request.httpVersion}`,
      requestId: ids.requestId,
      requestTime: requestTime(facts.receivedAt),
      requestTimeEpoch: facts.receivedAt.getTime(),
      resourceId: route.resourceId,
      resourcePath: route.resourcePath,
      stage: facts.stage,
    },
    ...encodedBody(facts.body, request.headers['content-type'], facts.bodyEncoding),
  };
}

/** Headers API Gateway does not pass on: they describe how the request travelled to API Gateway, not the request. */
const transportHeaders = new Set(['connection', 'content-length', 'keep-alive', 'transfer-encoding']);
/** Headers API Gateway sets itself, whatever the client sent. */
const gatewaySetHeaders = new Set(['x-forwarded-for', 'x-forwarded-port', 'x-forwarded-proto', 'x-amzn-trace-id']);

/** Every header as sent (`rawHeaders` keeps the client's casing and repeats), then the ones API Gateway adds. */
function forwardedHeaders(request: IncomingMessage, sourceIp: string, traceId: string): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  const forwardedFor: string[] = [];
  const raw = request.rawHeaders;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const name = raw[index]!;
    const value = raw[index + 1]!;
    const lowerName = name.toLowerCase();
    if (lowerName === 'x-forwarded-for') forwardedFor.push(value);
    if (transportHeaders.has(lowerName) || gatewaySetHeaders.has(lowerName)) continue;
    headers.set(name, [...(headers.get(name) ?? []), value]);
  }
  headers.set('X-Amzn-Trace-Id', [traceId]);
  // API Gateway appends the address it saw to what proxies before it reported.
  headers.set('X-Forwarded-For', [[...forwardedFor, sourceIp].join(', ')]);
  headers.set('X-Forwarded-Port', [String(request.socket.localPort)]);
  headers.set('X-Forwarded-Proto', ['http']);
  return headers;
}

/**
 * The query string's parameters in order, decoded. `+` is decoded as a space, as API Gateway does (a captured event
 * in aws/aws-cdk#19827 shows `?sort=-+createdAt` arriving as `- createdAt`).
 */
function queryParameters(query: string): Map<string, string[]> {
  const parameters = new Map<string, string[]>();
  for (const pair of query.split(/[&;]/)) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const name = queryDecoded(equals === -1 ? pair : pair.slice(0, equals));
    const value = equals === -1 ? '' : queryDecoded(pair.slice(equals + 1));
    parameters.set(name, [...(parameters.get(name) ?? []), value]);
  }
  return parameters;
}

function queryDecoded(text: string): string {
  return percentDecoded(text.replaceAll('+', ' '));
}

/** Built with `fromEntries`, so a name like `__proto__` is an ordinary key. */
function lastValues(multiValues: Map<string, string[]>): Record<string, string> {
  return Object.fromEntries([...multiValues].map(([name, values]) => [name, values.at(-1)!]));
}

const textualMediaTypes = new Set(['application/json', 'application/x-www-form-urlencoded', 'application/xml']);

/** Whether API Gateway treats a body of this type as text; a body without a type counts as JSON, as there. */
function isTextual(contentType: string | undefined): boolean {
  if (contentType === undefined) return true;
  const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
  return (
    mediaType.startsWith('text/') ||
    textualMediaTypes.has(mediaType) ||
    mediaType.endsWith('+json') ||
    mediaType.endsWith('+xml')
  );
}

function encodedBody(
  body: Buffer,
  contentType: string | undefined,
  encoding: BodyEncoding,
): Pick<APIGatewayProxyEvent, 'body' | 'isBase64Encoded'> {
  if (body.length === 0) return { body: null, isBase64Encoded: false };
  const asBase64 = encoding === 'always' || (encoding === 'binary' && !isTextual(contentType));
  return asBase64
    ? { body: body.toString('base64'), isBase64Encoded: true }
    : { body: body.toString('utf8'), isBase64Encoded: false };
}

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `requestContext.requestTime`, in API Gateway's CLF format: `18/Nov/2026:12:30:00 +0000`. */
function requestTime(at: Date): string {
  const two = (value: number) => String(value).padStart(2, '0');
  return (
    `${two(at.getUTCDate())}/${months[at.getUTCMonth()]}/${at.getUTCFullYear()}:` +
    `${two(at.getUTCHours())}:${two(at.getUTCMinutes())}:${two(at.getUTCSeconds())} +0000`
  );
}
