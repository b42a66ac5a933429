/**
 * `GetEntitlements` (Marketplace Entitlement Service): the unexpired contract entitlements of a product's active
 * licenses, filtered (values under one key OR-ed, keys AND-ed) and paged. Pages are at most `MaxResults` long and, when
 * the `entitlementEmptyPages` setting is on, an empty page that still carries a `NextToken` comes before each one, as
 * the real service may answer.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { validationError } from '../../local/http/aws-json.ts';
import { entitlementError } from '../marketplace-protocol.ts';
import { licenseArnFor, type LegacyArnSetting, type License } from '../marketplace.ts';
import { constraintViolations, integerMember, listMember, parseInput, stringMember } from '../validation.ts';
import type { OperationContext } from './context.ts';
import { PRODUCT_CODE_PATTERN } from './usage-checks.ts';

const filterKeys = ['CUSTOMER_IDENTIFIER', 'DIMENSION', 'CUSTOMER_AWS_ACCOUNT_ID', 'LICENSE_ARN'] as const;
type FilterKey = (typeof filterKeys)[number];

const requestInput = z.object({
  ProductCode: stringMember({ min: 1, max: 255, pattern: PRODUCT_CODE_PATTERN }),
  Filter: z.record(z.string(), listMember(stringMember({ min: 1 }), { min: 1 })).optional(),
  NextToken: stringMember({ pattern: /^\S+$/ }).optional(),
  MaxResults: integerMember({ min: 1, max: 25 }).optional(),
});

const DEFAULT_PAGE_SIZE = 25;

interface PageToken {
  /** Index of the first entitlement of the next page. */
  readonly offset: number;
  /** Digest of the query, so a token cannot be replayed against another one. */
  readonly query: string;
  /** The empty page before this offset has already been served. */
  readonly emptyServed: boolean;
}

export function getEntitlements(rawInput: unknown, context: OperationContext) {
  const request = parseInput(requestInput, rawInput);
  const filter = parseFilter(request.Filter ?? {});
  if (filter.CUSTOMER_IDENTIFIER !== undefined && filter.CUSTOMER_AWS_ACCOUNT_ID !== undefined) {
    throw entitlementError(
      'InvalidParameterException',
      'CUSTOMER_IDENTIFIER and CUSTOMER_AWS_ACCOUNT_ID cannot be used in the same filter',
    );
  }
  const { marketplace, now, settings } = context;
  if (marketplace.product(request.ProductCode) === undefined) {
    throw entitlementError('InvalidParameterException', `Product code ${request.ProductCode} is not valid`);
  }
  const query = createHash('sha256')
    .update(JSON.stringify([request.ProductCode, request.Filter ?? {}]))
    .digest('hex')
    .slice(0, 16);
  const token = request.NextToken === undefined ? undefined : decodeToken(request.NextToken, query);
  const offset = token?.offset ?? 0;

  const entitlements = marketplace
    .listLicenses(request.ProductCode)
    .filter((license) => marketplace.status(license, now) === 'active' && licenseMatches(license, filter, settings))
    .flatMap((license) => {
      const licenseArn = licenseArnFor(license, settings);
      return (
        license.entitlements
          // An entitlement past its expiry has ended (a contract not renewed): the `entitlement-updated` sent then
          // tells the seller to read again and find it gone.
          .filter((entitlement) => entitlement.expirationDate === undefined || entitlement.expirationDate > now)
          .filter((entitlement) => filter.DIMENSION?.includes(entitlement.dimension) ?? true)
          .map((entitlement) => ({
            ProductCode: license.productCode,
            Dimension: entitlement.dimension,
            ...(license.customerIdentifier === undefined ? {} : { CustomerIdentifier: license.customerIdentifier }),
            CustomerAWSAccountId: license.customerAWSAccountId,
            ...(licenseArn === undefined ? {} : { LicenseArn: licenseArn }),
            Value: entitlement.value,
            ...(entitlement.expirationDate === undefined ? {} : { ExpirationDate: entitlement.expirationDate }),
          }))
      );
    });

  if (settings.entitlementEmptyPages && offset < entitlements.length && token?.emptyServed !== true) {
    return { Entitlements: [], NextToken: encodeToken({ offset, query, emptyServed: true }) };
  }
  const pageSize = request.MaxResults ?? DEFAULT_PAGE_SIZE;
  const next = offset + pageSize;
  return {
    Entitlements: entitlements.slice(offset, next),
    ...(next < entitlements.length ? { NextToken: encodeToken({ offset: next, query, emptyServed: false }) } : {}),
  };
}

function parseFilter(filter: Record<string, string[]>): Partial<Record<FilterKey, string[]>> {
  const unknownKeys = Object.keys(filter).filter((key) => !(filterKeys as readonly string[]).includes(key));
  if (unknownKeys.length > 0) {
    throw validationError(
      constraintViolations(
        unknownKeys.map(
          (key) =>
            `Value '${key}' at 'filter' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy enum value set: [${filterKeys.join(', ')}]]`,
        ),
      ),
    );
  }
  return filter;
}

function licenseMatches(
  license: License,
  filter: Partial<Record<FilterKey, string[]>>,
  settings: LegacyArnSetting,
): boolean {
  const matches = (values: string[] | undefined, actual: string | undefined) =>
    values === undefined || (actual !== undefined && values.includes(actual));
  return (
    matches(filter.CUSTOMER_IDENTIFIER, license.customerIdentifier) &&
    matches(filter.CUSTOMER_AWS_ACCOUNT_ID, license.customerAWSAccountId) &&
    matches(filter.LICENSE_ARN, licenseArnFor(license, settings))
  );
}

function encodeToken(token: PageToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeToken(text: string, query: string): PageToken {
  try {
    const token = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as PageToken;
    if (token.query === query && Number.isInteger(token.offset) && token.offset >= 0) return token;
  } catch {
    // Falls through to the same answer as a token for another query.
  }
  throw entitlementError('InvalidParameterException', 'NextToken is not valid for this request');
}
