/**
 * `ResolveCustomer`: exchanges the registration token the buyer's browser POSTed to the fulfillment URL for the
 * buyer's identity. License-model products answer `CustomerAWSAccountId` + `LicenseArn` (no `CustomerIdentifier`);
 * legacy products answer `CustomerIdentifier` + the account id.
 */
import { z } from 'zod';
import { meteringError } from '../marketplace-protocol.ts';
import { parseInput, stringMember } from '../validation.ts';
import { licenseArnFor } from '../marketplace.ts';
import type { OperationContext } from './context.ts';

const requestInput = z.object({ RegistrationToken: stringMember({ min: 1 }) });

export function resolveCustomer(rawInput: unknown, context: OperationContext) {
  const { RegistrationToken } = parseInput(requestInput, rawInput);
  const resolution = context.marketplace.resolveRegistrationToken(RegistrationToken);
  if (resolution.outcome === 'unknown') {
    throw meteringError('InvalidTokenException', 'Registration token is invalid');
  }
  if (resolution.outcome === 'expired') {
    throw meteringError('ExpiredTokenException', 'Registration token has expired');
  }
  const { license } = resolution;
  const licenseArn = licenseArnFor(license, context.settings);
  return license.identityModel === 'license'
    ? { ProductCode: license.productCode, CustomerAWSAccountId: license.customerAWSAccountId, LicenseArn: licenseArn }
    : {
        ProductCode: license.productCode,
        CustomerIdentifier: license.customerIdentifier,
        CustomerAWSAccountId: license.customerAWSAccountId,
        ...(licenseArn === undefined ? {} : { LicenseArn: licenseArn }),
      };
}
