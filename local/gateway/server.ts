/**
 * The local API gateway: a real HTTP server that runs Lambda handlers written for API Gateway's REST API (v1) proxy
 * integration the way API Gateway does (the events it builds, the results it accepts, its own error answers and
 * limits), so the very handlers that are deployed answer locally.
 *
 * @example
 * const gateway = await startLocalGateway({
 *   routes: [{ method: 'POST', path: '/fulfillment', handler: fulfillment.handler }],
 * });
 * await fetch(`${gateway.url}/fulfillment`, { method: 'POST', body: form }); // http://127.0.0.1:<port>/local/...
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listen } from '../http/listen.ts';
import { handledRequests } from '../http/request-handler.ts';
import { readBody, RequestTooLargeError } from '../http/read-body.ts';
import { GatewayConfigError } from './config-error.ts';
import {
  apiConfigurationError,
  contentLengthExceeded,
  endpointRequestTimedOut,
  internalServerError,
  missingAuthenticationToken,
  requestTooLong,
} from './gateway-responses.ts';
import { sendAnswer, type HttpAnswer } from './http-answer.ts';
import { createLambdaContext } from '../lambda-context.ts';
import {
  EventTooLargeError,
  FunctionError,
  IntegrationTimeoutError,
  invokeFunction,
  ResultTooLargeError,
} from './lambda-invoke.ts';
import { buildProxyEvent, type BodyEncoding, type Caller } from './proxy-event.ts';
import { answerFromProxyResult, Base64BodyError, MalformedProxyResultError } from './proxy-result.ts';
import { newRequestIds, requestIdHeaders, type RequestIds } from './request-ids.ts';
import { RouteTable, type MatchedRoute, type Route } from './routes.ts';
import { verifySignature, type IamAuthorization } from './sigv4-verification.ts';

export type { BodyEncoding } from './proxy-event.ts';
export type { Authorization, ProxyHandler, Route } from './routes.ts';
export type { IamAuthorization } from './sigv4-verification.ts';

export interface LocalGatewayOptions {
  /** TCP port; 0 (the default) picks a free one. */
  readonly port?: number;
  readonly host?: string;
  readonly routes: readonly Route[];
  /** The stage name, the first segment of every URL (`/local/fulfillment`). Default `local`. */
  readonly stage?: string;
  /**
   * Which request bodies reach functions base64-encoded (the API's binaryMediaTypes). Default `never`, as API Gateway
   * does for an API that names no binary media types.
   */
  readonly base64Bodies?: BodyEncoding;
  /** How long the gateway waits for a function: API Gateway's integration timeout, 29 s unless raised. */
  readonly integrationTimeoutMs?: number;
  /**
   * The API's customized gateway responses for its own 5xx answers (DEFAULT_5XX, INTEGRATION_TIMEOUT), if it has
   * them: this body and these headers replace API Gateway's JSON, with `Retry-After` on a timeout.
   */
  readonly serverErrorPage?: ServerErrorPage;
  /** How the routes with `authorization: 'iam'` check signatures; required when there are such routes. */
  readonly iam?: IamAuthorization;
}

export interface ServerErrorPage {
  readonly html: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly retryAfterSeconds: number;
}

export interface RunningGateway {
  /** The stage's invoke URL, without a trailing slash: `http://127.0.0.1:3000/local`. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting connections, ends open ones (keep-alive or in flight) and resolves when the server is closed. */
  close(): Promise<void>;
}

/** API Gateway's payload quota for REST APIs, "10 MB": its 413 message names the exact figure. */
const MAX_REQUEST_BODY_BYTES = 10_485_760;
const DEFAULT_INTEGRATION_TIMEOUT_MS = 29_000;
/** API Gateway's rule for stage names. */
const stageName = /^[A-Za-z0-9_-]{1,128}$/;

interface Gateway {
  readonly routes: RouteTable;
  readonly stage: string;
  readonly bodyEncoding: BodyEncoding;
  readonly integrationTimeoutMs: number;
  readonly serverErrorPage: ServerErrorPage | undefined;
  readonly iam: IamAuthorization | undefined;
}

/** @throws {GatewayConfigError} for a route or stage API Gateway would refuse, before anything listens. */
export async function startLocalGateway(options: LocalGatewayOptions): Promise<RunningGateway> {
  const stage = options.stage ?? 'local';
  if (!stageName.test(stage)) {
    throw new GatewayConfigError(`Stage name "${stage}" must be 1-128 of A-Z a-z 0-9 - _`);
  }
  const integrationTimeoutMs = options.integrationTimeoutMs ?? DEFAULT_INTEGRATION_TIMEOUT_MS;
  if (!Number.isInteger(integrationTimeoutMs) || integrationTimeoutMs <= 0) {
    throw new GatewayConfigError(`integrationTimeoutMs must be a positive whole number, not ${integrationTimeoutMs}`);
  }
  if (options.iam === undefined && options.routes.some((route) => route.authorization === 'iam')) {
    throw new GatewayConfigError('Routes with IAM authorization need the `iam` option: how to check signatures');
  }
  const gateway: Gateway = {
    routes: new RouteTable(options.routes),
    stage,
    bodyEncoding: options.base64Bodies ?? 'never',
    integrationTimeoutMs,
    serverErrorPage: options.serverErrorPage,
    iam: options.iam,
  };
  const server = createServer(
    handledRequests('local gateway', (request, response) => serve(gateway, request, response)),
  );
  const host = options.host ?? '127.0.0.1';
  // As API Gateway does: Marketplace's page posts the fulfillment form from its own site.
  await listen(server, options.port ?? 0, host, { foreignOrigins: 'serve' });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}/${stage}`,
    port,
    close: async () => {
      const closed = new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
      server.closeAllConnections();
      await closed;
    },
  };
}

async function serve(gateway: Gateway, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const receivedAt = new Date();
  const ids = newRequestIds(request, receivedAt);
  const answer = await answerRequest(gateway, request, ids, receivedAt);
  sendAnswer(response, answer, requestIdHeaders(ids));
}

async function answerRequest(
  gateway: Gateway,
  request: IncomingMessage,
  ids: RequestIds,
  receivedAt: Date,
): Promise<HttpAnswer> {
  let body: Buffer;
  try {
    body = await readBody(request, MAX_REQUEST_BODY_BYTES);
  } catch (error) {
    if (error instanceof RequestTooLargeError) {
      return contentLengthExceeded(MAX_REQUEST_BODY_BYTES);
    }
    throw error;
  }
  const target = requestTarget(request.url ?? '', gateway.stage);
  if (target === undefined) return missingAuthenticationToken();
  const match = gateway.routes.match(request.method ?? '', target.path);
  if (match.kind !== 'matched') return missingAuthenticationToken();
  const route = match.route;
  let caller: Caller | undefined;
  if (route.authorization === 'iam') {
    const verdict = verifySignature(request, body, gateway.iam!);
    if (verdict.kind === 'refused') return verdict.answer;
    caller = { accessKey: verdict.accessKeyId };
  }
  const event = buildProxyEvent({
    request,
    body,
    path: target.path,
    query: target.query,
    stage: gateway.stage,
    route,
    ids,
    receivedAt,
    bodyEncoding: gateway.bodyEncoding,
    caller,
  });
  const { integrationTimeoutMs } = gateway;
  const functionTimeoutMs = Math.min(route.timeoutMs ?? integrationTimeoutMs, integrationTimeoutMs);
  const context = createLambdaContext(route.functionName, functionTimeoutMs, receivedAt);
  try {
    return answerFromProxyResult(
      await invokeFunction(route.handler, event, context, integrationTimeoutMs, route.timeoutMs),
    );
  } catch (error) {
    return customized(failureAnswer(error, route, ids), gateway.serverErrorPage);
  }
}

/** The path below the stage (still percent-encoded) and the raw query; undefined outside the stage. */
function requestTarget(url: string, stage: string): { path: string; query: string } | undefined {
  const queryStart = url.indexOf('?');
  const fullPath = queryStart === -1 ? url : url.slice(0, queryStart);
  const query = queryStart === -1 ? '' : url.slice(queryStart + 1);
  const stagePrefix = `/${stage}`;
  if (fullPath === stagePrefix) return { path: '/', query };
  if (!fullPath.startsWith(`${stagePrefix}/`)) return undefined;
  return { path: fullPath.slice(stagePrefix.length), query };
}

/** A 5xx answer of API Gateway's own, as the API's customized gateway responses turn it into a page. */
function customized(answer: HttpAnswer, page: ServerErrorPage | undefined): HttpAnswer {
  if (page === undefined || answer.statusCode < 500) return answer;
  return {
    statusCode: answer.statusCode,
    headers: [
      ['Content-Type', 'text/html; charset=utf-8'],
      ...Object.entries(page.headers),
      ...(answer.statusCode === 504 ? [['Retry-After', String(page.retryAfterSeconds)] as [string, string]] : []),
    ],
    body: Buffer.from(page.html),
  };
}

/**
 * API Gateway's answer when the invocation fails, with the reason on stderr, where API Gateway's execution log and
 * the function's CloudWatch log would show it; the client only ever gets the generic message.
 */
function failureAnswer(error: unknown, route: MatchedRoute, ids: RequestIds): HttpAnswer {
  const log = (what: string, detail: unknown) =>
    console.error(`local gateway: ${route.functionName} (request ${ids.requestId}): ${what}`, detail);
  if (error instanceof IntegrationTimeoutError) {
    log('Execution failed due to a timeout error', error.message);
    return endpointRequestTimedOut();
  }
  if (error instanceof EventTooLargeError) {
    log('Lambda refused the invocation', error.message);
    return requestTooLong();
  }
  if (error instanceof Base64BodyError) {
    log('Execution failed due to configuration error', error.message);
    return apiConfigurationError();
  }
  if (error instanceof MalformedProxyResultError || error instanceof ResultTooLargeError) {
    log('Execution failed due to configuration error', error.message);
    return internalServerError();
  }
  if (error instanceof FunctionError) {
    log('Lambda execution failed with a function error', error.cause);
    return internalServerError();
  }
  throw error;
}
