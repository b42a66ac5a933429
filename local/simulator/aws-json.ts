/**
 * The awsJson1_1 wire protocol as the Marketplace services speak it: `POST /`, `X-Amz-Target` routing, JSON bodies,
 * an `x-amzn-RequestId` on every response and typed JSON error bodies, so the unmodified AWS SDK clients raise the
 * right exception classes with `$metadata.requestId` set.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
/** The documented request size limit of the metering service. */
export const MAX_REQUEST_BYTES = 1024 * 1024;

const meteringNamespace = 'com.amazonaws.marketplacemetering';
const entitlementNamespace = 'com.amazonaws.marketplaceentitlementservice';

export type Operation = 'BatchMeterUsage' | 'MeterUsage' | 'ResolveCustomer' | 'RegisterUsage' | 'GetEntitlements';

export const operations: readonly Operation[] = [
  'BatchMeterUsage',
  'MeterUsage',
  'ResolveCustomer',
  'RegisterUsage',
  'GetEntitlements',
];

const targets: Record<string, Operation> = {
  'AWSMPMeteringService.BatchMeterUsage': 'BatchMeterUsage',
  'AWSMPMeteringService.MeterUsage': 'MeterUsage',
  'AWSMPMeteringService.ResolveCustomer': 'ResolveCustomer',
  'AWSMPMeteringService.RegisterUsage': 'RegisterUsage',
  'AWSMPEntitlementService.GetEntitlements': 'GetEntitlements',
};

/** An error answered in the service's own format. `type` is the exception name the SDK maps to a class. */
export class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
    readonly namespace = meteringNamespace,
  ) {
    super(message);
    this.name = type;
  }
}

/** Errors modeled by the metering service; the status follows each error's fault (client 400, server 500). */
export type MeteringErrorType =
  | 'InternalServiceErrorException'
  | 'ThrottlingException'
  | 'DisabledApiException'
  | 'InvalidProductCodeException'
  | 'InvalidUsageDimensionException'
  | 'InvalidTagException'
  | 'InvalidUsageAllocationsException'
  | 'InvalidCustomerIdentifierException'
  | 'InvalidLicenseException'
  | 'TimestampOutOfBoundsException'
  | 'InvalidTokenException'
  | 'ExpiredTokenException'
  | 'CustomerNotEntitledException'
  | 'DuplicateRequestException'
  | 'IdempotencyConflictException'
  | 'InvalidPublicKeyVersionException';

export function meteringError(type: MeteringErrorType, message: string): AwsError {
  const status = type === 'InternalServiceErrorException' ? 500 : type === 'IdempotencyConflictException' ? 409 : 400;
  return new AwsError(type, message, status, meteringNamespace);
}

export type EntitlementErrorType =
  'InvalidParameterException' | 'ThrottlingException' | 'InternalServiceErrorException';

export function entitlementError(type: EntitlementErrorType, message: string): AwsError {
  return new AwsError(type, message, type === 'InternalServiceErrorException' ? 500 : 400, entitlementNamespace);
}

/** The error a service answers when it is throttled or failing, in the namespace of the operation's service. */
export function serviceError(
  operation: Operation,
  type: 'ThrottlingException' | 'InternalServiceErrorException',
  message: string,
) {
  return operation === 'GetEntitlements' ? entitlementError(type, message) : meteringError(type, message);
}

/** Errors raised by the service framework before an operation runs, common to every AWS JSON service. */
function frameworkError(type: string, message: string, status = 400): AwsError {
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

export function operationForTarget(target: string | undefined): Operation {
  if (target === undefined || !Object.hasOwn(targets, target)) throw unknownOperationError();
  return targets[target]!;
}

/** The caller, as far as the SigV4 `Authorization` header tells it. */
export interface Caller {
  readonly accessKeyId: string;
  readonly region: string;
}

const credentialPattern = /Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request/;

/**
 * Reads the credential scope of a SigV4 `Authorization` header. The signature itself is not verified (any
 * credentials will do locally), but a missing header or a scope for another service is refused as AWS would.
 */
export function callerFromAuthorization(header: string | undefined, required: boolean): Caller {
  if (header === undefined || header === '') {
    if (!required) return { accessKeyId: 'anonymous', region: 'us-east-1' };
    throw frameworkError('MissingAuthenticationTokenException', 'Missing Authentication Token', 403);
  }
  const match = header.startsWith('AWS4-HMAC-SHA256 ') ? credentialPattern.exec(header) : null;
  if (match === null) {
    throw frameworkError(
      'IncompleteSignatureException',
      'Authorization header requires a SigV4 Credential, SignedHeaders and Signature',
      403,
    );
  }
  const [, accessKeyId = '', , region = '', service = ''] = match;
  if (service !== 'aws-marketplace') {
    throw frameworkError(
      'InvalidSignatureException',
      `Credential should be scoped to correct service: 'aws-marketplace', not '${service}'.`,
      403,
    );
  }
  return { accessKeyId, region };
}

/** The Entitlement Service exists in us-east-1 only: a request signed for another region is refused as AWS would. */
export function wrongRegionError(region: string): AwsError {
  return frameworkError(
    'InvalidSignatureException',
    `Credential should be scoped to a valid region, not '${region}'.`,
    403,
  );
}

export function requestTooLargeError(limit: number): AwsError {
  return frameworkError('RequestEntityTooLargeException', `Request must be smaller than ${limit} bytes`, 413);
}

/**
 * Reads a request body up to `limit` bytes. A body declared larger is refused at once; a larger chunked body is
 * drained (up to a hard cap, then the socket is dropped) before the 413 is answered, so the client reads a clean
 * error rather than a reset connection.
 */
export async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  if (Number(request.headers['content-length'] ?? 0) > limit) throw requestTooLargeError(limit);
  const hardCap = limit * 16;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > hardCap) {
      request.socket.destroy();
      break;
    }
    if (size <= limit) chunks.push(chunk);
  }
  if (size > limit) throw requestTooLargeError(limit);
  return Buffer.concat(chunks);
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
