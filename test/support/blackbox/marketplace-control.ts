/**
 * The Marketplace simulator's control API (`<simulatorUrl>/control`, docs/simulator.md, "Control API") over plain
 * `fetch`: what Marketplace and its buyers do (licenses bought and cancelled, time passing, faults), and what it
 * billed.
 */

export type IdentityModel = 'license' | 'legacy';

export interface License {
  readonly id: string;
  readonly productCode: string;
  readonly identityModel: IdentityModel;
  readonly licenseArn?: string;
  readonly customerIdentifier?: string;
  readonly activatedAt?: string;
  readonly endedAt?: string;
}

export interface BilledRecord {
  readonly licenseId: string;
  readonly productCode: string;
  readonly dimension: string;
  /** The hour Marketplace deduplicated the record in (ISO). */
  readonly hour: string;
  readonly quantity: number;
}

export interface RecordResult {
  readonly status: 'Success' | 'CustomerNotSubscribed' | 'DuplicateRecord';
  readonly licenseId?: string;
  readonly dimension: string;
  readonly timestamp: string;
  readonly quantity: number;
}

/** A `PUT /control/faults` body. */
export interface FaultPlan {
  readonly seed: number;
  readonly rules: readonly FaultRule[];
}

export type FaultRule = {
  readonly operations?: readonly string[];
  readonly probability?: number;
  readonly skip?: number;
  readonly times?: number;
} & (
  | { readonly kind: 'throttle' | 'internal-error' }
  | { readonly kind: 'latency'; readonly latencyMs: number }
  | { readonly kind: 'unprocessed'; readonly fraction: number }
  | { readonly kind: 'drop-connection'; readonly when: 'before-processing' | 'after-processing' }
);

interface OperationStats {
  readonly requests: number;
}

export class MarketplaceControl {
  constructor(private readonly simulatorUrl: string) {}

  /** A buyer subscribes (an active license): the license and the token the buyer brings to the fulfillment URL. */
  subscribe(productCode: string): Promise<{ license: License; registrationToken: string }> {
    return this.call('POST', '/licenses', { productCode });
  }

  /** The buyer cancels: the license ends now, by the simulator's clock. */
  cancel(licenseId: string): Promise<License> {
    return this.call('POST', `/licenses/${encodeURIComponent(licenseId)}/end`, { reason: 'CANCELLED' });
  }

  async now(): Promise<Date> {
    return new Date((await this.call<{ now: string }>('GET', '/clock')).now);
  }

  /** Sets the clock, frozen: it moves only when told to. */
  async setClock(now: Date): Promise<void> {
    await this.call('PUT', '/clock', { now: now.toISOString(), running: false });
  }

  async setFaults(plan: FaultPlan): Promise<void> {
    await this.call('PUT', '/faults', plan);
  }

  async clearFaults(): Promise<void> {
    await this.call('DELETE', '/faults');
  }

  async billed(): Promise<BilledRecord[]> {
    return (await this.call<{ records: BilledRecord[] }>('GET', '/billed')).records;
  }

  async results(): Promise<RecordResult[]> {
    return (await this.call<{ results: RecordResult[] }>('GET', '/results')).results;
  }

  /** `BatchMeterUsage` requests that have reached Marketplace so far, answered or not. */
  async batchMeterUsageRequests(): Promise<number> {
    const { operations } = await this.call<{ operations: Record<string, OperationStats> }>('GET', '/stats');
    return operations.BatchMeterUsage?.requests ?? 0;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.simulatorUrl}/control${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} /control${path} answered ${response.status}: ${text}`);
    return JSON.parse(text) as T;
  }
}
