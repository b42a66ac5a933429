/**
 * A typed client for the simulator's control API, for tests, the local stack, and sellers scripting their own
 * scenarios. It speaks plain HTTP, exactly as `curl` would (see the README for each endpoint).
 *
 * @example
 * const control = new SimulatorControl('http://127.0.0.1:4010');
 * const { license, registrationToken } = await control.createLicense({ productCode: 'my-product' });
 * await control.advanceClock({ hours: 1 });
 * const { records } = await control.billed({ licenseId: license.id });
 */
import type {
  DimensionKind,
  EndReason,
  EntitlementValue,
  IdentityModel,
  LicenseStatus,
  OfferType,
  PricingModel,
} from './marketplace.ts';
import type { EventFormat } from './lifecycle-events.ts';
import type { FaultRule } from './faults.ts';
import type { Operation } from './marketplace-protocol.ts';
import type { OperationStats } from './faults.ts';
import type { RecordStatus } from './metering-ledger.ts';
import type { Settings, SettingsPatch } from './settings.ts';
import { SimulatorError } from './errors.ts';

/** Dates travel as ISO-8601 strings. */
type Iso = string;

export interface ProductInput {
  readonly code: string;
  readonly name: string;
  readonly pricingModel: PricingModel;
  readonly identityModel?: IdentityModel;
  readonly dimensions: readonly {
    readonly name: string;
    readonly kind: DimensionKind;
    readonly description?: string;
  }[];
}

export interface ProductView extends Required<Omit<ProductInput, 'dimensions'>> {
  readonly productId: string;
  readonly dimensions: readonly { readonly name: string; readonly kind: DimensionKind }[];
}

export interface EntitlementInput {
  readonly dimension: string;
  readonly value: EntitlementValue;
  readonly expirationDate?: Iso;
}

export interface LicenseInput {
  readonly productCode: string;
  readonly customerAWSAccountId?: string;
  readonly offerType?: OfferType;
  /** Live at once (default), or pending until {@link SimulatorControl.activate}. */
  readonly activate?: boolean;
  readonly entitlements?: readonly EntitlementInput[];
}

export interface LicenseView {
  readonly id: string;
  readonly productCode: string;
  readonly identityModel: IdentityModel;
  readonly status: LicenseStatus;
  readonly customerAWSAccountId: string;
  readonly licenseArn?: string;
  readonly customerIdentifier?: string;
  readonly agreementId: string;
  readonly offerId: string;
  readonly offerType: OfferType;
  readonly createdAt: Iso;
  readonly activatedAt?: Iso;
  readonly failedAt?: Iso;
  readonly endedAt?: Iso;
  readonly endReason?: EndReason;
  readonly entitlements: readonly EntitlementInput[];
}

export interface ClockView {
  readonly now: Iso;
  readonly running: boolean;
}

export interface FaultPlanInput {
  readonly seed?: number;
  readonly rules?: readonly (Partial<FaultRule> & Pick<FaultRule, 'kind'>)[];
  readonly tpsLimits?: Partial<Record<Operation, number>>;
}

export interface BilledRecordView {
  readonly meteringRecordId: string;
  readonly operation: 'BatchMeterUsage' | 'MeterUsage';
  readonly requestId: string;
  readonly receivedAt: Iso;
  readonly productCode: string;
  readonly licenseId: string;
  readonly licenseArn?: string;
  readonly customerIdentifier?: string;
  readonly customerAWSAccountId: string;
  readonly dimension: string;
  readonly timestamp: Iso;
  readonly hour: Iso;
  readonly quantity: number;
  readonly allocations: readonly {
    readonly quantity: number;
    readonly tags: readonly { key: string; value: string }[];
  }[];
  readonly freeTrial: boolean;
  /** Billed under both `ProductCode` and `LicenseArn` (see {@link DoubleBillingView}). */
  readonly doubleBilled: boolean;
}

/** A record sent with `ProductCode` and `LicenseArn`, billed twice as AWS would bill it. */
export interface DoubleBillingView {
  readonly kind: 'double-billing';
  readonly requestId: string;
  readonly receivedAt: Iso;
  readonly recordPosition: number;
  readonly productCode: string;
  readonly licenseId: string;
  readonly licenseArn: string;
  readonly customerAWSAccountId: string;
  readonly dimension: string;
  readonly hour: Iso;
  /** Under the `ProductCode`, then under the `LicenseArn`. */
  readonly meteringRecordIds: readonly [string, string];
  readonly message: string;
}

export interface RecordResultView {
  readonly requestId: string;
  readonly receivedAt: Iso;
  readonly status: RecordStatus;
  readonly meteringRecordId?: string;
  readonly productCode?: string;
  readonly licenseId?: string;
  readonly dimension: string;
  readonly timestamp: Iso;
  readonly quantity: number;
}

export interface BilledFilter {
  readonly productCode?: string;
  readonly licenseId?: string;
  readonly licenseArn?: string;
  readonly customerIdentifier?: string;
  readonly customerAWSAccountId?: string;
  readonly dimension?: string;
}

export interface ResultFilter {
  readonly productCode?: string;
  readonly licenseId?: string;
  readonly dimension?: string;
  readonly status?: RecordStatus;
}

export interface PublishedEventView {
  readonly sequence: number;
  readonly format: EventFormat;
  readonly licenseId: string;
  readonly body: Record<string, unknown>;
}

/** A control API call the simulator refused. */
export class SimulatorControlError extends SimulatorError {
  override readonly name = 'SimulatorControlError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${code} (${status}): ${message}`);
  }
}

export class SimulatorControl {
  private readonly base: string;

  constructor(simulatorUrl: string) {
    this.base = `${simulatorUrl.replace(/\/$/, '')}/control`;
  }

  createProduct = (product: ProductInput) => this.call<ProductView>('POST', '/products', product);
  products = () => this.call<{ products: ProductView[] }>('GET', '/products');

  createLicense = (license: LicenseInput) =>
    this.call<{ license: LicenseView; registrationToken: string }>('POST', '/licenses', license);
  license = (id: string) => this.call<LicenseView>('GET', `/licenses/${encodeURIComponent(id)}`);
  licenses = (productCode?: string) =>
    this.call<{ licenses: LicenseView[] }>('GET', `/licenses${query({ productCode })}`);
  issueRegistrationToken = (id: string) =>
    this.call<{ registrationToken: string }>('POST', `/licenses/${encodeURIComponent(id)}/registration-tokens`);
  activate = (id: string) => this.call<LicenseView>('POST', `/licenses/${encodeURIComponent(id)}/activate`);
  fail = (id: string) => this.call<LicenseView>('POST', `/licenses/${encodeURIComponent(id)}/fail`);
  end = (id: string, reason?: EndReason) =>
    this.call<LicenseView>('POST', `/licenses/${encodeURIComponent(id)}/end`, reason === undefined ? {} : { reason });
  setEntitlements = (id: string, entitlements: readonly EntitlementInput[]) =>
    this.call<LicenseView>('PUT', `/licenses/${encodeURIComponent(id)}/entitlements`, entitlements);

  clock = () => this.call<ClockView>('GET', '/clock');
  setClock = (now: Date, running?: boolean) =>
    this.call<ClockView>('PUT', '/clock', { now: now.toISOString(), ...(running === undefined ? {} : { running }) });
  /** Stops the clock where it stands, or runs it on from there. */
  setClockRunning = (running: boolean) => this.call<ClockView>('PUT', '/clock', { running });
  advanceClock = (by: { hours?: number; minutes?: number; seconds?: number }) =>
    this.call<ClockView>('POST', '/clock/advance', by);

  settings = () => this.call<Settings>('GET', '/settings');
  updateSettings = (patch: SettingsPatch) => this.call<Settings>('PATCH', '/settings', patch);
  reset = () => this.call<{ reset: true }>('POST', '/reset');

  setFaults = (plan: FaultPlanInput) => this.call<FaultPlanInput>('PUT', '/faults', plan);
  clearFaults = () => this.call<FaultPlanInput>('DELETE', '/faults');

  billed = (filter: BilledFilter = {}) =>
    this.call<{ records: BilledRecordView[]; totalQuantity: number }>('GET', `/billed${query(filter)}`);
  results = (filter: ResultFilter = {}) =>
    this.call<{ results: RecordResultView[] }>('GET', `/results${query(filter)}`);
  stats = () =>
    this.call<{
      operations: Record<Operation, OperationStats>;
      eventDeliveries: { delivered: number; failed: number };
      /** How many records have been billed twice. */
      doubleBilled: number;
    }>('GET', '/stats');
  warnings = () => this.call<{ warnings: DoubleBillingView[] }>('GET', '/warnings');

  events = (after = 0, format?: EventFormat) =>
    this.call<{ events: PublishedEventView[]; lastSequence: number }>(
      'GET',
      `/events${query({ after: String(after), format })}`,
    );
  subscribeEvents = (url: string, format: EventFormat = 'eventbridge') =>
    this.call<{ id: string; url: string; format: EventFormat }>('POST', '/event-subscriptions', { url, format });
  eventSubscriptions = () =>
    this.call<{ subscriptions: { id: string; url: string; format: EventFormat }[] }>('GET', '/event-subscriptions');
  unsubscribeEvents = (id: string) =>
    this.call<{ deleted: string }>('DELETE', `/event-subscriptions/${encodeURIComponent(id)}`);

  registerUsagePublicKey = () =>
    this.call<{ publicKeyPem: string; version: number }>('GET', '/register-usage/public-key');

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = `${this.base}${path}`;
    const response = await fetch(url, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await response.text();
    // Whatever else answers at the address (another server, a proxy) is named with what it said, not taken apart.
    const unexpected = (code: string) =>
      new SimulatorControlError(response.status, code, `${method} ${url} answered ${excerpt(text)}`);
    if (!(response.headers.get('content-type') ?? '').startsWith('application/json')) throw unexpected('NotJson');
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      throw unexpected('NotJson');
    }
    if (!response.ok) {
      const { error, message } = (payload ?? {}) as { error?: unknown; message?: unknown };
      if (typeof error !== 'string' || typeof message !== 'string') throw unexpected('NotSimulatorError');
      throw new SimulatorControlError(response.status, error, message);
    }
    return payload as T;
  }
}

/** At most 200 characters of an answer, on one line. */
function excerpt(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line === '' ? 'nothing' : line.length > 200 ? `${line.slice(0, 200)}...` : line;
}

function query(parameters: object): string {
  const defined = Object.entries(parameters).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
  return defined.length === 0 ? '' : `?${new URLSearchParams(defined).toString()}`;
}
