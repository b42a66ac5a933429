/**
 * The awsJson1_1 wire protocol, for the local stand-ins of AWS services (the Marketplace simulator, the event bus):
 * JSON bodies, an `x-amzn-RequestId` on every answer and typed JSON error bodies, so the unmodified AWS SDK clients
 * raise the right exception classes with `$metadata.requestId` set.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, RequestTooLargeError } from './read-body.ts';

const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';

/** An error answered in the service's own format. `type` is the exception name the SDK maps to a class. */
export class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status: number,
    readonly namespace: string,
  ) {
    super(message);
    this.name = type;
  }
}

/** Errors raised by the service framework before an operation runs, common to every AWS JSON service. */
export function frameworkError(type: string, message: string, status = 400): AwsError {
  return new AwsError(type, message, status, 'com.amazon.coral.service');
}

/** Constraint violations, answered the way AWS's JSON services do before an operation runs. */
export function validationError(message: string): AwsError {
  return new AwsError('ValidationException', message, 400, 'com.amazon.coral.validate');
}

export function serializationError(message: string): AwsError {
  return frameworkError('SerializationException', message);
}

export function unknownOperationError(): AwsError {
  return frameworkError('UnknownOperationException', 'Unknown operation');
}

/** The body, or a 413 `RequestEntityTooLargeException` when it is over `limit` bytes. */
export async function readAwsJsonBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  try {
    return await readBody(request, limit);
  } catch (error) {
    if (error instanceof RequestTooLargeError) {
      throw frameworkError('RequestEntityTooLargeException', `Request must be at most ${limit} bytes`, 413);
    }
    throw error;
  }
}

/** Parses a JSON object body. JSON `null` means "absent" in this protocol, so null members are dropped. */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return {};
  let parsed: unknown;
  try {
    // A nesting too deep to walk raises a RangeError here, answered like any other unreadable body.
    parsed = JSON.parse(body.toString('utf8'), (_key, value: unknown) => (value === null ? undefined : value));
  } catch {
    throw serializationError('Request body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw serializationError('Request body must be a JSON object');
  }
  return parsed;
}

export function sendAwsJson(response: ServerResponse, status: number, body: unknown, requestId: string): void {
  const payload = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': JSON_CONTENT_TYPE,
    'content-length': Buffer.byteLength(payload),
    'x-amzn-requestid': requestId,
  });
  response.end(payload);
}

export function sendAwsError(response: ServerResponse, error: AwsError, requestId: string): void {
  sendAwsJson(
    response,
    error.status,
    { __type: `${error.namespace}#${error.type}`, message: error.message },
    requestId,
  );
}
