/**
 * The Smithy RPC v2 CBOR protocol, which the Entitlement Service's current model lists before awsJson1_1 (SDKs that
 * follow the model send it): `POST /service/AWSMPEntitlementService/operation/GetEntitlements` with a
 * `smithy-protocol: rpc-v2-cbor` header and a CBOR body; answers in CBOR with the same header, errors as a CBOR map
 * holding `__type` (the error's shape id) and `message`, timestamps as CBOR tag 1 (epoch seconds).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { cbor, dateToTag } from '@smithy/core/cbor';
import { AwsError, frameworkError, serializationError, unknownOperationError } from '../local/http/aws-json.ts';
import type { Operation } from './marketplace-protocol.ts';

const CBOR_CONTENT_TYPE = 'application/cbor';
const PROTOCOL_HEADER = 'smithy-protocol';
const PROTOCOL = 'rpc-v2-cbor';

/** The path prefix of every RPC v2 request; the rest names the service and the operation. */
export const RPC_V2_PATH_PREFIX = '/service/';

/** Only the Entitlement Service has the protocol: the metering service's model lists awsJson1_1 alone. */
const operations: Record<string, Operation> = {
  'AWSMPEntitlementService/GetEntitlements': 'GetEntitlements',
};

/** The operation a request path names, or `UnknownOperationException` (404) for any other path. */
export function operationForPath(pathname: string): Operation {
  const match = /^\/service\/([^/]+)\/operation\/([^/]+)$/.exec(pathname);
  const key = match === null ? undefined : `${match[1]}/${match[2]}`;
  if (key === undefined || !Object.hasOwn(operations, key)) {
    const error = unknownOperationError();
    throw new AwsError(error.type, error.message, 404, error.namespace);
  }
  return operations[key]!;
}

/** The headers the protocol requires of a request: its name, and a CBOR body (an empty body is an empty input). */
export function checkRequestHeaders(request: IncomingMessage, body: Buffer): void {
  if (request.headers[PROTOCOL_HEADER] !== PROTOCOL) {
    throw serializationError(`The ${PROTOCOL_HEADER} header must be '${PROTOCOL}'`);
  }
  const contentType = request.headers['content-type'];
  if (body.length > 0 && contentType?.split(';')[0]?.trim().toLowerCase() !== CBOR_CONTENT_TYPE) {
    throw frameworkError(
      'UnsupportedMediaTypeException',
      `Content-Type must be ${CBOR_CONTENT_TYPE}, not '${contentType ?? ''}'`,
      415,
    );
  }
  const accept = request.headers.accept;
  if (accept !== undefined && !/(^|,)\s*(application\/cbor|application\/\*|\*\/\*)\s*(;|,|$)/i.test(accept)) {
    throw frameworkError('NotAcceptableException', `Accept must allow ${CBOR_CONTENT_TYPE}, not '${accept}'`, 406);
  }
}

/** Decodes a request body into the input an operation reads: a map, with CBOR null meaning "absent". */
export function parseCborBody(body: Buffer): unknown {
  if (body.length === 0) return {};
  let decoded: unknown;
  // The decoder warns, with a stack trace on stderr, of a length beyond 2^53 before it fails on it (a hostile body):
  // the body is refused all the same, without the warning (decoding is synchronous, so nothing else warns meanwhile).
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    decoded = cbor.deserialize(body);
  } catch {
    throw serializationError('Request body is not valid CBOR');
  } finally {
    console.warn = warn;
  }
  if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded) || decoded instanceof Uint8Array) {
    throw serializationError('Request body must be a CBOR map');
  }
  return withoutNulls(decoded);
}

export function sendCbor(response: ServerResponse, status: number, body: unknown, requestId: string): void {
  const payload = Buffer.from(cbor.serialize(withTimestampTags(body)));
  response.writeHead(status, {
    [PROTOCOL_HEADER]: PROTOCOL,
    'content-type': CBOR_CONTENT_TYPE,
    'content-length': payload.length,
    'x-amzn-requestid': requestId,
  });
  response.end(payload);
}

export function sendCborError(response: ServerResponse, error: AwsError, requestId: string): void {
  sendCbor(response, error.status, { __type: `${error.namespace}#${error.type}`, message: error.message }, requestId);
}

function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, member]) => member !== null)
      .map(([key, member]) => [key, withoutNulls(member)]),
  );
}

/** Answers carry timestamps as `Date`s: here each becomes CBOR tag 1, as the protocol encodes them. */
function withTimestampTags(value: unknown): unknown {
  if (value instanceof Date) return dateToTag(value);
  if (Array.isArray(value)) return value.map(withTimestampTags);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, member]) => [key, withTimestampTags(member)]));
}
