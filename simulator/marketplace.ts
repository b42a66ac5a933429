/**
 * The simulated Marketplace catalogue: products, the licenses buyers hold on them, their entitlements and the
 * registration tokens that resolve to them. The control API changes it; the AWS operations read it.
 */
import type { SimulatorClock } from './clock.ts';
import { ControlError } from './control-error.ts';
import { ids } from './random.ts';
import { hourOf } from './metering-ledger.ts';
import type { Settings } from './settings.ts';

export type PricingModel = 'subscriptions' | 'contracts' | 'contracts-with-consumption';
/** `license`: Concurrent Agreements (CustomerAWSAccountId + LicenseArn). `legacy`: CustomerIdentifier + ProductCode. */
export type IdentityModel = 'license' | 'legacy';
export type DimensionKind = 'metered' | 'contract';
export type OfferType = 'standard' | 'free-trial';
export type EndReason = 'CANCELLED' | 'EXPIRED' | 'TERMINATED';

export interface Dimension {
  readonly name: string;
  readonly kind: DimensionKind;
}

export interface Product {
  readonly code: string;
  readonly productId: string;
  readonly name: string;
  readonly pricingModel: PricingModel;
  readonly identityModel: IdentityModel;
  readonly dimensions: readonly Dimension[];
}

export type EntitlementValue =
  | { readonly IntegerValue: number }
  | { readonly DoubleValue: number }
  | { readonly BooleanValue: boolean }
  | { readonly StringValue: string };

export interface Entitlement {
  readonly dimension: string;
  readonly value: EntitlementValue;
  readonly expirationDate?: Date;
}

export interface License {
  /** The simulator's handle for the license (`l-...`), also the last part of its ARN. */
  readonly id: string;
  readonly productCode: string;
  readonly identityModel: IdentityModel;
  readonly customerAWSAccountId: string;
  /** Set for the license model only: legacy buyers are known by `customerIdentifier`. */
  readonly licenseArn?: string;
  readonly customerIdentifier?: string;
  readonly agreementId: string;
  readonly offerId: string;
  readonly offerType: OfferType;
  readonly createdAt: Date;
  activatedAt?: Date;
  failedAt?: Date;
  endedAt?: Date;
  endReason?: EndReason;
  entitlements: readonly Entitlement[];
}

/**
 * `pending`: subscribed, not yet live (no `subscribe-success` / `License Updated`); `active`: billable; `ending`: ended
 * less than the final-metering grace ago, final records still accepted; `ended`; `failed`: `subscribe-fail`.
 */
export type LicenseStatus = 'pending' | 'active' | 'ending' | 'ended' | 'failed';

/** The account named in the license ARNs the simulator issues; any well-formed account id would do. */
const LICENSE_ISSUER_ACCOUNT_ID = '999999999999';

const LICENSE_ARN_PREFIX = `arn:aws:license-manager::${LICENSE_ISSUER_ACCOUNT_ID}:license:`;

function licenseArnOf(licenseId: string): string {
  return `${LICENSE_ARN_PREFIX}${licenseId}`;
}

/** The setting that gives legacy licenses an ARN. */
export type LegacyArnSetting = Pick<Settings, 'legacyResolveIncludesLicenseArn'>;

/**
 * The ARN a license is known by to the metering and entitlement APIs: a license-model license's own; a legacy one's
 * only while legacy answers carry an ARN (products migrating to Concurrent Agreements), the ARN `ResolveCustomer` gave.
 */
export function licenseArnFor(license: License, settings: LegacyArnSetting): string | undefined {
  return license.licenseArn ?? (settings.legacyResolveIncludesLicenseArn ? licenseArnOf(license.id) : undefined);
}

export interface NewProduct {
  readonly code: string;
  readonly name: string;
  readonly pricingModel: PricingModel;
  readonly identityModel: IdentityModel;
  readonly dimensions: readonly Dimension[];
}

export interface NewLicense {
  readonly productCode: string;
  readonly customerAWSAccountId?: string | undefined;
  readonly offerType: OfferType;
  /** Live at once (the default), or left pending until activated. */
  readonly activate: boolean;
  readonly entitlements?: readonly Entitlement[] | undefined;
}

interface RegistrationToken {
  readonly licenseId: string;
  readonly issuedAt: Date;
  resolvedAt?: Date;
}

/** Everything the catalogue holds, for saving the simulator's state and restoring it. */
export interface MarketplaceState {
  readonly products: readonly Product[];
  readonly licenses: readonly License[];
  readonly registrationTokens: readonly (RegistrationToken & { readonly token: string })[];
}

export type TokenResolution =
  | { readonly outcome: 'resolved'; readonly license: License }
  | { readonly outcome: 'unknown' }
  | { readonly outcome: 'expired' };

export class Marketplace {
  private readonly products = new Map<string, Product>();
  private readonly licenses = new Map<string, License>();
  private readonly licensesByArn = new Map<string, License>();
  private readonly tokens = new Map<string, RegistrationToken>();

  constructor(
    private readonly clock: SimulatorClock,
    private readonly settings: () => Settings,
  ) {}

  createProduct(input: NewProduct): Product {
    if (this.products.has(input.code)) {
      throw new ControlError(409, 'ProductExists', `Product ${input.code} already exists`);
    }
    const product: Product = { ...input, productId: ids.productId() };
    this.products.set(product.code, product);
    return product;
  }

  product(code: string): Product | undefined {
    return this.products.get(code);
  }

  listProducts(): Product[] {
    return [...this.products.values()];
  }

  createLicense(input: NewLicense): License {
    const product = this.requireProduct(input.productCode);
    const id = ids.licenseId();
    const now = this.clock.now();
    const customerAWSAccountId = input.customerAWSAccountId ?? ids.accountId();
    const live = this.liveLicensesOf(product.code, customerAWSAccountId, now);
    // A buyer on a free trial may accept a paid offer before the trial ends.
    const paidAfterTrial =
      input.offerType === 'standard' && live.every((license) => license.offerType === 'free-trial');
    if (live.length > 0 && !paidAfterTrial) {
      throw new ControlError(
        409,
        'AlreadySubscribed',
        `Account ${customerAWSAccountId} already subscribes to ${product.code} (license ${live.at(-1)!.id}): ` +
          'Marketplace takes one subscription per account and product; end or fail that one first',
      );
    }
    if (input.offerType === 'free-trial' && this.hadFreeTrial(product.code, customerAWSAccountId)) {
      throw new ControlError(
        409,
        'FreeTrialUsed',
        `Account ${customerAWSAccountId} has had a free trial of ${product.code}: Marketplace gives one per account ` +
          'and product',
      );
    }
    const license: License = {
      id,
      productCode: product.code,
      identityModel: product.identityModel,
      customerAWSAccountId,
      ...(product.identityModel === 'license'
        ? { licenseArn: licenseArnOf(id) }
        : { customerIdentifier: this.legacyIdentifierOf(product.code, customerAWSAccountId) }),
      agreementId: ids.agreementId(),
      offerId: ids.offerId(),
      offerType: input.offerType,
      createdAt: now,
      ...(input.activate ? { activatedAt: now } : {}),
      entitlements: [],
    };
    if (input.entitlements !== undefined) this.checkEntitlements(product, input.entitlements);
    license.entitlements = input.entitlements ?? [];
    // A legacy buyer's trial and paid subscription are one CustomerIdentifier: the paid one goes on from the trial,
    // which ends with no notification of its own (ending it later would end the paid one too).
    if (product.identityModel === 'legacy') for (const trial of live) trial.endedAt = now;
    this.licenses.set(id, license);
    if (license.licenseArn !== undefined) this.licensesByArn.set(license.licenseArn, license);
    return license;
  }

  /** The account's subscriptions to the product that have neither failed nor ended by `now`. */
  private liveLicensesOf(productCode: string, accountId: string, now: Date): License[] {
    return this.listLicenses(productCode).filter(
      (license) =>
        license.customerAWSAccountId === accountId &&
        license.failedAt === undefined &&
        (license.endedAt === undefined || license.endedAt > now),
    );
  }

  private hadFreeTrial(productCode: string, accountId: string): boolean {
    return this.listLicenses(productCode).some(
      (license) => license.customerAWSAccountId === accountId && license.offerType === 'free-trial',
    );
  }

  requireLicense(id: string): License {
    const license = this.licenses.get(id);
    if (license === undefined) throw new ControlError(404, 'LicenseNotFound', `No license ${id}`);
    return license;
  }

  /** The license `arn` names, by `licenseArnFor`'s rule. */
  licenseByArn(arn: string, settings: LegacyArnSetting): License | undefined {
    const license = this.licensesByArn.get(arn);
    if (license !== undefined || !settings.legacyResolveIncludesLicenseArn || !arn.startsWith(LICENSE_ARN_PREFIX)) {
      return license;
    }
    const legacy = this.licenses.get(arn.slice(LICENSE_ARN_PREFIX.length));
    return legacy?.identityModel === 'legacy' ? legacy : undefined;
  }

  listLicenses(productCode?: string): License[] {
    return [...this.licenses.values()].filter(
      (license) => productCode === undefined || license.productCode === productCode,
    );
  }

  /**
   * The license of a legacy buyer of `productCode`, named by CustomerIdentifier or by account id. A buyer who
   * subscribed again after an end has several; a live one (else the latest) is the one that counts: for usage at `at`,
   * the live one active then (an old subscription in its final-metering hour, or the new one), else the first live one.
   */
  legacyCustomer(
    productCode: string,
    customer: { customerIdentifier?: string; accountId?: string },
    at?: Date,
  ): License | undefined {
    const candidates = this.listLicenses(productCode).filter(
      (license) =>
        license.identityModel === 'legacy' &&
        (customer.customerIdentifier !== undefined
          ? license.customerIdentifier === customer.customerIdentifier
          : license.customerAWSAccountId === customer.accountId),
    );
    const live = candidates.filter((license) => this.isLive(license));
    const activeThen =
      at === undefined
        ? undefined
        : live.find(
            (license) =>
              license.activatedAt !== undefined &&
              hourOf(license.activatedAt) <= at &&
              (license.endedAt === undefined || at <= license.endedAt),
          );
    return activeThen ?? live[0] ?? candidates.at(-1);
  }

  /** The account's license on `productCode` that is active now, if any. */
  /** The account's active license on the product; a paid one before a free trial running beside it. */
  activeLicense(productCode: string, accountId: string): License | undefined {
    const active = this.listLicenses(productCode).filter(
      (license) => license.customerAWSAccountId === accountId && this.status(license) === 'active',
    );
    return active.find((license) => license.offerType !== 'free-trial') ?? active[0];
  }

  /** Whether Marketplace still accepts usage for the license now: active, or ended less than the grace ago. */
  isLive(license: License, at: Date = this.clock.now()): boolean {
    const status = this.status(license, at);
    return status === 'active' || status === 'ending';
  }

  status(license: License, at: Date = this.clock.now()): LicenseStatus {
    if (license.failedAt !== undefined) return 'failed';
    // Ended before it was ever activated (the buyer cancelled a pending subscription): it never took usage.
    if (license.activatedAt === undefined) {
      return license.endedAt === undefined || at < license.endedAt ? 'pending' : 'ended';
    }
    if (at < license.activatedAt) return 'pending';
    if (license.endedAt === undefined || at < license.endedAt) return 'active';
    const graceEnd = license.endedAt.getTime() + this.settings().finalMeteringGraceSeconds * 1000;
    return at.getTime() < graceEnd ? 'ending' : 'ended';
  }

  activate(id: string): License {
    const license = this.requireLicense(id);
    this.requireStatus(license, ['pending'], 'activate');
    license.activatedAt = this.clock.now();
    return license;
  }

  fail(id: string): License {
    const license = this.requireLicense(id);
    this.requireStatus(license, ['pending'], 'fail');
    license.failedAt = this.clock.now();
    return license;
  }

  end(id: string, reason: EndReason): License {
    const license = this.requireLicense(id);
    this.requireStatus(license, ['pending', 'active'], 'end');
    license.endedAt = this.clock.now();
    license.endReason = reason;
    return license;
  }

  setEntitlements(id: string, entitlements: readonly Entitlement[]): License {
    const license = this.requireLicense(id);
    this.requireStatus(license, ['pending', 'active'], 'change the entitlements of');
    this.checkEntitlements(this.requireProduct(license.productCode), entitlements);
    license.entitlements = entitlements;
    return license;
  }

  issueRegistrationToken(licenseId: string): string {
    this.requireLicense(licenseId);
    const token = ids.registrationToken();
    this.tokens.set(token, { licenseId, issuedAt: this.clock.now() });
    return token;
  }

  resolveRegistrationToken(token: string): TokenResolution {
    const entry = this.tokens.get(token);
    const license = entry === undefined ? undefined : this.licenses.get(entry.licenseId);
    if (entry === undefined || license === undefined) return { outcome: 'unknown' };
    const { registrationTokenTtlSeconds, singleUseRegistrationTokens } = this.settings();
    const now = this.clock.now();
    const expired = now.getTime() - entry.issuedAt.getTime() > registrationTokenTtlSeconds * 1000;
    if (expired || (singleUseRegistrationTokens && entry.resolvedAt !== undefined)) return { outcome: 'expired' };
    entry.resolvedAt = now;
    return { outcome: 'resolved', license };
  }

  state(): MarketplaceState {
    return {
      products: this.listProducts(),
      licenses: this.listLicenses(),
      registrationTokens: [...this.tokens].map(([token, entry]) => ({ token, ...entry })),
    };
  }

  /** Takes up `state` in place of what this (new, empty) catalogue holds. */
  restore(state: MarketplaceState): void {
    for (const product of state.products) this.products.set(product.code, product);
    for (const license of state.licenses) {
      this.licenses.set(license.id, license);
      if (license.licenseArn !== undefined) this.licensesByArn.set(license.licenseArn, license);
    }
    for (const { token, ...entry } of state.registrationTokens) this.tokens.set(token, entry);
  }

  /** A legacy buyer keeps one CustomerIdentifier per product, across subscriptions. */
  private legacyIdentifierOf(productCode: string, accountId: string): string {
    return this.legacyCustomer(productCode, { accountId })?.customerIdentifier ?? ids.customerIdentifier();
  }

  private requireProduct(code: string): Product {
    const product = this.products.get(code);
    if (product === undefined) throw new ControlError(404, 'ProductNotFound', `No product ${code}`);
    return product;
  }

  private requireStatus(license: License, allowed: readonly LicenseStatus[], action: string): void {
    const status = this.status(license);
    if (!allowed.includes(status)) {
      throw new ControlError(409, 'InvalidLicenseState', `Cannot ${action} license ${license.id}: it is ${status}`);
    }
  }

  private checkEntitlements(product: Product, entitlements: readonly Entitlement[]): void {
    const contractDimensions = new Set(product.dimensions.filter((d) => d.kind === 'contract').map((d) => d.name));
    const seen = new Set<string>();
    for (const entitlement of entitlements) {
      if (!contractDimensions.has(entitlement.dimension)) {
        throw new ControlError(
          400,
          'InvalidEntitlement',
          `Dimension ${entitlement.dimension} is not a contract dimension of product ${product.code}`,
        );
      }
      // A license holds one value per dimension: GetEntitlements never answers two for one.
      if (seen.has(entitlement.dimension)) {
        throw new ControlError(400, 'InvalidEntitlement', `Dimension ${entitlement.dimension} is entitled twice`);
      }
      seen.add(entitlement.dimension);
    }
  }
}
