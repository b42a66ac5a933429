/**
 * The identifiers API Gateway gives every request, and the response headers that carry them. The same values appear in
 * the event (`requestContext.requestId`, `requestContext.extendedRequestId`, the `X-Amzn-Trace-Id` header), so a client
 * can quote any answer's id and find the invocation that produced it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { HeaderLine } from './http-answer.ts';

export interface RequestIds {
  /** `requestContext.requestId` and the `x-amzn-RequestId` header: a UUID. */
  readonly requestId: string;
  /** `requestContext.extendedRequestId` and the `x-amz-apigw-id` header, shaped like `EqnnQEEe4osFe-A=`. */
  readonly extendedRequestId: string;
  /** The X-Ray trace: the client's own `X-Amzn-Trace-Id` when it sent one (API Gateway continues it), else a new root. */
  readonly traceId: string;
}

export function newRequestIds(request: IncomingMessage, now: Date): RequestIds {
  const clientTrace = request.headers['x-amzn-trace-id'];
  return {
    requestId: randomUUID(),
    extendedRequestId: `${randomBytes(11).toString('base64url')}=`,
    traceId: typeof clientTrace === 'string' && clientTrace !== '' ? clientTrace : newTraceRoot(now),
  };
}

/** X-Ray's format: version 1, the epoch seconds in 8 hex digits, then 96 random bits. */
function newTraceRoot(now: Date): string {
  const epochSeconds = Math.floor(now.getTime() / 1000)
    .toString(16)
    .padStart(8, '0');
  return `Root=1-${epochSeconds}-${randomBytes(12).toString('hex')}`;
}

/** The headers API Gateway adds to every answer, the function's and its own alike. */
export function requestIdHeaders(ids: RequestIds): HeaderLine[] {
  return [
    ['x-amzn-RequestId', ids.requestId],
    ['x-amz-apigw-id', ids.extendedRequestId],
    ['X-Amzn-Trace-Id', ids.traceId],
  ];
}
