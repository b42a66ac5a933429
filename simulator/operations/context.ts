import type { Caller } from '../marketplace-protocol.ts';
import type { Marketplace } from '../marketplace.ts';
import type { MeteringLedger } from '../metering-ledger.ts';
import type { Settings } from '../settings.ts';
import type { UsageSigner } from '../usage-signer.ts';

/** Everything an operation may read or change while it answers one request. */
export interface OperationContext {
  readonly requestId: string;
  readonly caller: Caller;
  /** The simulator clock when the request arrived. */
  readonly now: Date;
  readonly settings: Settings;
  readonly marketplace: Marketplace;
  readonly ledger: MeteringLedger;
  readonly signer: UsageSigner;
  /** `MeterUsage` client tokens seen so far, with what they were answered. */
  readonly clientTokens: Map<string, { readonly fingerprint: string; readonly response: unknown }>;
  /** Which of `count` records a fault plan leaves unprocessed (`BatchMeterUsage`). */
  readonly pickUnprocessed: (count: number) => boolean[];
}

export type OperationHandler = (input: unknown, context: OperationContext) => unknown;
