/**
 * The Marketplace services on the awsJson1_1 protocol (see `../local/http/aws-json.ts`): their operations and `X-Amz-Target`s,
 * their modeled errors, and the SigV4 checks AWS makes before any of them runs.
 */
import { createHash } from 'node:crypto';
import { MARKETPLACE_HOME_REGION } from '../contracts/index.ts';
import { AwsError, frameworkError, unknownOperationError } from '../local/http/aws-json.ts';

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
  | 'InvalidPublicKeyVersionException'
  | 'InvalidEndpointRegionException';

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

export function operationForTarget(target: string | undefined): Operation {
  if (target === undefined || !Object.hasOwn(targets, target)) throw unknownOperationError();
  return targets[target]!;
}

/** The caller, as far as the SigV4 `Authorization` header tells it. */
export interface Caller {
  readonly accessKeyId: string;
  readonly region: string;
  /**
   * One instance, task or pod: its credentials, the access key id with the session token's digest. Instances of one
   * buyer account share the (12-digit) access key id here, each with a session token of its own, as each has its own
   * role session in AWS.
   */
  readonly instance: string;
}

const credentialPattern = /Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request/;

/**
 * Reads the credential scope of a SigV4 `Authorization` header. The signature itself is not verified (any
 * credentials will do locally), but a missing header or a scope for another service is refused as AWS would.
 */
export function callerFromAuthorization(
  header: string | undefined,
  sessionToken: string | undefined,
  required: boolean,
): Caller {
  if (header === undefined || header === '') {
    if (!required) return { accessKeyId: 'anonymous', region: MARKETPLACE_HOME_REGION, instance: 'anonymous' };
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
  const session =
    sessionToken === undefined ? '' : createHash('sha256').update(sessionToken).digest('hex').slice(0, 16);
  return { accessKeyId, region, instance: `${accessKeyId}|${session}` };
}

/** The Entitlement Service exists in us-east-1 only: a request signed for another region is refused as AWS would. */
export function wrongRegionError(region: string): AwsError {
  return frameworkError(
    'InvalidSignatureException',
    `Credential should be scoped to a valid region, not '${region}'.`,
    403,
  );
}
