/**
 * The simulator's state and its AWS-protocol front door: one object holding the clock, settings, catalogue, ledger,
 * lifecycle events and fault plan, and the request pipeline every AWS call goes through (read, route, authenticate,
 * inject faults, validate, run the operation, answer).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AwsError,
  parseJsonBody,
  readAwsJsonBody,
  sendAwsError,
  sendAwsJson,
  serializationError,
} from '../aws-json.ts';
import {
  callerFromAuthorization,
  MAX_REQUEST_BYTES,
  meteringError,
  operationForTarget,
  serviceError,
  wrongRegionError,
  type Operation,
} from './marketplace-protocol.ts';
import { SimulatorClock } from './clock.ts';
import { emptyStats, FaultInjector, faultPlanSchema, type OperationStats } from './faults.ts';
import { LifecycleEvents, type LifecycleChange } from './lifecycle-events.ts';
import { Marketplace, type License } from './marketplace.ts';
import { MeteringLedger } from './metering-ledger.ts';
import { batchMeterUsage } from './operations/batch-meter-usage.ts';
import type { OperationContext, OperationHandler } from './operations/context.ts';
import { getEntitlements } from './operations/get-entitlements.ts';
import { meterUsage } from './operations/meter-usage.ts';
import { registerUsage } from './operations/register-usage.ts';
import { resolveCustomer } from './operations/resolve-customer.ts';
import { ids } from './random.ts';
import { defaultSettings, type Settings, type SettingsPatch } from './settings.ts';
import { UsageSigner } from './usage-signer.ts';

const handlers: Record<Operation, OperationHandler> = {
  BatchMeterUsage: batchMeterUsage,
  MeterUsage: meterUsage,
  ResolveCustomer: resolveCustomer,
  RegisterUsage: registerUsage,
  GetEntitlements: getEntitlements,
};

/** The only region the Marketplace Entitlement Service exists in. */
const ENTITLEMENT_SERVICE_REGION = 'us-east-1';

/** Operations whose model lists `DisabledApiException`: they refuse regions not enabled for the seller. */
const regionGatedOperations: ReadonlySet<Operation> = new Set(['BatchMeterUsage', 'ResolveCustomer', 'RegisterUsage']);

export class Simulator {
  readonly clock = new SimulatorClock();
  readonly signer = new UsageSigner();
  settings: Settings = defaultSettings;
  marketplace!: Marketplace;
  ledger!: MeteringLedger;
  events!: LifecycleEvents;
  faults!: FaultInjector;
  stats!: Record<Operation, OperationStats>;
  private clientTokens!: OperationContext['clientTokens'];

  constructor(settings: SettingsPatch = {}) {
    this.reset(settings);
  }

  /** Forgets everything: catalogue, billing, events, faults, statistics; settings back to defaults plus `settings`. */
  reset(settings: SettingsPatch = {}): void {
    this.events?.close();
    this.settings = { ...defaultSettings, ...settings };
    this.marketplace = new Marketplace(this.clock, () => this.settings);
    this.ledger = new MeteringLedger();
    this.events = new LifecycleEvents(
      () => this.settings.sellerAccountId,
      () => this.settings.finalMeteringGraceSeconds * 1000,
    );
    this.faults = new FaultInjector(faultPlanSchema.parse({}));
    this.stats = Object.fromEntries(Object.keys(handlers).map((operation) => [operation, emptyStats()])) as Record<
      Operation,
      OperationStats
    >;
    this.clientTokens = new Map();
  }

  /** Records a lifecycle change and publishes whatever is due by now. */
  notify(change: LifecycleChange, license: License): void {
    const product = this.marketplace.product(license.productCode)!;
    this.events.record(change, license, product, this.clock.now());
    this.releaseDueEvents();
  }

  releaseDueEvents(): void {
    this.events.release(this.clock.now());
  }

  async handleAws(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = ids.requestId();
    let operation: Operation | undefined;
    try {
      const body = await readAwsJsonBody(request, MAX_REQUEST_BYTES);
      operation = operationForTarget(header(request, 'x-amz-target'));
      const contentType = header(request, 'content-type') ?? '';
      if (!/^application\/(x-amz-json-1\.[01]|json)\b/.test(contentType)) {
        throw serializationError(`Content-Type must be application/x-amz-json-1.1, not '${contentType}'`);
      }
      const caller = callerFromAuthorization(header(request, 'authorization'), this.settings.requireSignature);
      this.releaseDueEvents();
      const stats = this.stats[operation];
      stats.requests++;

      const faults = this.faults.decide(operation);
      if (faults.latencyMs > 0) {
        stats.delayed++;
        await sleep(faults.latencyMs);
      }
      if (faults.drop === 'before-processing') {
        stats.dropped++;
        request.socket.destroy();
        return;
      }
      if (faults.throttle) {
        stats.throttled++;
        throw serviceError(operation, 'ThrottlingException', 'Rate exceeded');
      }
      if (faults.internalError) {
        stats.internalErrors++;
        throw serviceError(operation, 'InternalServiceErrorException', 'An internal error occurred; retry');
      }
      if (regionGatedOperations.has(operation) && !this.settings.enabledRegions.includes(caller.region)) {
        throw meteringError('DisabledApiException', `The API is not enabled in ${caller.region} for this seller`);
      }
      if (operation === 'GetEntitlements' && caller.region !== ENTITLEMENT_SERVICE_REGION) {
        throw wrongRegionError(caller.region);
      }

      const result = handlers[operation](parseJsonBody(body), {
        requestId,
        caller,
        now: this.clock.now(),
        settings: this.settings,
        marketplace: this.marketplace,
        ledger: this.ledger,
        signer: this.signer,
        clientTokens: this.clientTokens,
        pickUnprocessed: (count) => {
          const picked = this.faults.pickUnprocessed(count, faults.unprocessedFraction);
          stats.unprocessedRecords += picked.filter(Boolean).length;
          return picked;
        },
      });
      if (faults.drop === 'after-processing') {
        stats.dropped++;
        request.socket.destroy();
        return;
      }
      sendAwsJson(response, 200, result, requestId);
    } catch (error) {
      // A caller that hung up mid-request is owed no answer.
      if (request.destroyed && !request.complete) return;
      if (error instanceof AwsError) {
        sendAwsError(response, error, requestId);
        return;
      }
      console.error(`simulator: unexpected error in request ${requestId}`, error);
      const unexpected = serviceError(
        operation ?? 'BatchMeterUsage',
        'InternalServiceErrorException',
        'Unexpected simulator error',
      );
      sendAwsError(response, unexpected, requestId);
    }
  }
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
