/**
 * `GetEntitlements` (Marketplace Entitlement Service): the unexpired contract entitlements of a product's active
 * licenses, filtered (values under one key OR-ed, keys AND-ed) and paged. Pages are at most `MaxResults` long and, when
 * the `entitlementEmptyPages` setting is on, an empty page that still carries a `NextToken` comes before each one, as
 * the real service may answer. Entitlements come license by license, in the order they were made; a `NextToken` names
 * the last one served (its license and dimension), not a count, so licenses that end, and entitlements that expire or
 * are added between pages, never make a page skip or repeat one that was there all along.
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

/** Where an entitlement stands in the product's order: its license's creation, then its place in the license. */
interface Place {
  readonly licenseIndex: number;
  readonly entitlementIndex: number;
}

interface PageToken {
  /** The license of the last entitlement served (ended licenses stay listed; after a reset the token is refused). */
  readonly licenseId: string;
  /** That entitlement's dimension (a license is entitled to a dimension once). */
  readonly dimension: string;
  /** Digest of the query, so a token cannot be replayed against another one. */
  readonly query: string;
  /** The empty page before the next one has already been served. */
  readonly emptyServed: boolean;
}

export function getEntitlements(rawInput: unknown, context: OperationContext) {
  const request = parseInput(requestInput, rawInput);
  // Keys from the input itself: `z.record` drops a `__proto__` key that `JSON.parse` made an own property.
  const filterKeysGiven = Object.keys((rawInput as { Filter?: object }).Filter ?? {});
  const filter = parseFilter(request.Filter ?? {}, filterKeysGiven);
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
  const licenses = marketplace.listLicenses(request.ProductCode);
  const token = request.NextToken === undefined ? undefined : decodeToken(request.NextToken, query);
  const after = token === undefined ? undefined : placeOf(token, licenses);

  const remaining = licenses.flatMap((license, licenseIndex) => {
    if (marketplace.status(license, now) !== 'active' || !licenseMatches(license, filter, settings)) return [];
    const licenseArn = licenseArnFor(license, settings);
    return license.entitlements.flatMap((entitlement, entitlementIndex) => {
      const place = { licenseIndex, entitlementIndex };
      if (after !== undefined && !isAfter(place, after)) return [];
      // An entitlement past its expiry has ended (a contract not renewed): the `entitlement-updated` sent then tells
      // the seller to read again and find it gone.
      if (entitlement.expirationDate !== undefined && entitlement.expirationDate <= now) return [];
      if (!(filter.DIMENSION?.includes(entitlement.dimension) ?? true)) return [];
      const served = {
        ProductCode: license.productCode,
        Dimension: entitlement.dimension,
        ...(license.customerIdentifier === undefined ? {} : { CustomerIdentifier: license.customerIdentifier }),
        CustomerAWSAccountId: license.customerAWSAccountId,
        ...(licenseArn === undefined ? {} : { LicenseArn: licenseArn }),
        Value: entitlement.value,
        ...(entitlement.expirationDate === undefined ? {} : { ExpirationDate: entitlement.expirationDate }),
      };
      return [{ served, cursor: { licenseId: license.id, dimension: entitlement.dimension, query } }];
    });
  });

  if (settings.entitlementEmptyPages && remaining.length > 0 && token?.emptyServed !== true) {
    const sameSpot = token ?? { licenseId: '', dimension: '', query };
    return { Entitlements: [], NextToken: encodeToken({ ...sameSpot, emptyServed: true }) };
  }
  const page = remaining.slice(0, request.MaxResults ?? DEFAULT_PAGE_SIZE);
  const last = page.at(-1);
  return {
    Entitlements: page.map((entry) => entry.served),
    ...(last !== undefined && page.length < remaining.length
      ? { NextToken: encodeToken({ ...last.cursor, emptyServed: false }) }
      : {}),
  };
}

/** The place a token names; a token from before the first page (`licenseId` empty) names none. */
function placeOf(token: PageToken, licenses: readonly License[]): Place | undefined {
  if (token.licenseId === '') return undefined;
  const licenseIndex = licenses.findIndex((candidate) => candidate.id === token.licenseId);
  // Licenses are never forgotten but by a reset, which makes earlier tokens meaningless.
  if (licenseIndex < 0) throw invalidToken();
  // Entitlements replaced between pages without that dimension: the license is served again whole, rather than risk
  // leaving out one of its entitlements (a dimension appears once per license, so the seller sees a repeat as one).
  const entitlementIndex = licenses[licenseIndex]!.entitlements.findIndex(
    (entitlement) => entitlement.dimension === token.dimension,
  );
  return { licenseIndex, entitlementIndex };
}

function isAfter(place: Place, after: Place): boolean {
  return (
    place.licenseIndex > after.licenseIndex ||
    (place.licenseIndex === after.licenseIndex && place.entitlementIndex > after.entitlementIndex)
  );
}

function parseFilter(
  filter: Record<string, string[]>,
  keysGiven: readonly string[],
): Partial<Record<FilterKey, string[]>> {
  const unknownKeys = keysGiven.filter((key) => !(filterKeys as readonly string[]).includes(key));
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
    if (token.query === query && typeof token.licenseId === 'string' && typeof token.dimension === 'string') {
      return token;
    }
  } catch {
    // Falls through to the same answer as a token for another query.
  }
  throw invalidToken();
}

function invalidToken(): Error {
  return entitlementError('InvalidParameterException', 'NextToken is not valid for this request');
}
