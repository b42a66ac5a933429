/**
 * The two wire protocols the simulator answers AWS calls in: awsJson1_1 (`POST /` with `X-Amz-Target`, every
 * operation) and Smithy RPC v2 CBOR (`POST /service/<service>/operation/<operation>`, the Entitlement Service). The
 * request pipeline is the same for both; only reading the request and writing the answer differ.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseJsonBody, sendAwsError, sendAwsJson, serializationError, type AwsError } from '../local/http/aws-json.ts';
import { operationForTarget, type Operation } from './marketplace-protocol.ts';
import {
  checkRequestHeaders,
  operationForPath,
  parseCborBody,
  RPC_V2_PATH_PREFIX,
  sendCbor,
  sendCborError,
} from './rpc-v2-cbor.ts';

export interface WireProtocol {
  /** The operation a request calls, once its headers have been checked; throws the protocol's error otherwise. */
  operation(request: IncomingMessage, path: string, body: Buffer): Operation;
  /** The operation's input, decoded from the body. */
  input(body: Buffer): unknown;
  /** Sends an operation's answer, whose timestamps are `Date`s. */
  send(response: ServerResponse, result: unknown, requestId: string): void;
  sendError(response: ServerResponse, error: AwsError, requestId: string): void;
}

const awsJson1_1: WireProtocol = {
  operation: (request) => {
    const operation = operationForTarget(header(request, 'x-amz-target'));
    const contentType = header(request, 'content-type') ?? '';
    if (!/^application\/(x-amz-json-1\.[01]|json)\b/.test(contentType)) {
      throw serializationError(`Content-Type must be application/x-amz-json-1.1, not '${contentType}'`);
    }
    return operation;
  },
  input: parseJsonBody,
  send: (response, result, requestId) => sendAwsJson(response, 200, withEpochSeconds(result), requestId),
  sendError: sendAwsError,
};

const rpcV2Cbor: WireProtocol = {
  operation: (request, path, body) => {
    const operation = operationForPath(path);
    checkRequestHeaders(request, body);
    return operation;
  },
  input: parseCborBody,
  send: (response, result, requestId) => sendCbor(response, 200, result, requestId),
  sendError: sendCborError,
};

export function protocolFor(path: string): WireProtocol {
  return path.startsWith(RPC_V2_PATH_PREFIX) ? rpcV2Cbor : awsJson1_1;
}

/** A request header's value (the first, when sent more than once). */
export function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** awsJson1_1 sends timestamps as epoch seconds. */
function withEpochSeconds(value: unknown): unknown {
  if (value instanceof Date) return value.getTime() / 1000;
  if (Array.isArray(value)) return value.map(withEpochSeconds);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, member]) => [key, withEpochSeconds(member)]));
}
