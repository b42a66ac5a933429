/**
 * `RegisterUsage` (paid container products): checks the caller's entitlement and answers a signed token. The caller's
 * account is its access key id when that is 12 digits (the convention of local AWS emulators); any other key has no
 * account, and so no entitlement.
 */
import { z } from 'zod';
import { meteringError } from '../marketplace-protocol.ts';
import { integerMember, parseInput, stringMember } from '../validation.ts';
import { PUBLIC_KEY_VERSION } from '../usage-signer.ts';
import type { OperationContext } from './context.ts';
import { PRODUCT_CODE_PATTERN } from './usage-checks.ts';

const requestInput = z.object({
  ProductCode: stringMember({ min: 1, max: 255, pattern: PRODUCT_CODE_PATTERN }),
  PublicKeyVersion: integerMember({ min: 1 }),
  Nonce: stringMember({ max: 255 }).optional(),
});

export function registerUsage(rawInput: unknown, context: OperationContext) {
  const request = parseInput(requestInput, rawInput);
  const license = entitledLicense(request.ProductCode, context);
  if (request.PublicKeyVersion !== PUBLIC_KEY_VERSION) {
    throw meteringError(
      'InvalidPublicKeyVersionException',
      `Public key version ${request.PublicKeyVersion} is not valid; the current version is ${PUBLIC_KEY_VERSION}`,
    );
  }
  return {
    Signature: context.signer.sign({
      productCode: request.ProductCode,
      publicKeyVersion: request.PublicKeyVersion,
      customerAWSAccountId: license.customerAWSAccountId,
      ...(request.Nonce === undefined ? {} : { nonce: request.Nonce }),
      issuedAt: context.now.toISOString(),
    }),
  };
}

/** The caller's active license on `productCode`, or the error Marketplace answers when there is none. */
export function entitledLicense(productCode: string, context: OperationContext) {
  const { marketplace, caller } = context;
  if (marketplace.product(productCode) === undefined) {
    throw meteringError('InvalidProductCodeException', `Product code ${productCode} is not a published product`);
  }
  const account = /^\d{12}$/.test(caller.accessKeyId) ? caller.accessKeyId : undefined;
  const license = account === undefined ? undefined : marketplace.activeLicense(productCode, account);
  if (license === undefined) {
    throw meteringError(
      'CustomerNotEntitledException',
      `Account ${account ?? '(none: the access key id is not a 12-digit account id)'} has no active subscription to ${productCode}`,
    );
  }
  return license;
}
