/**
 * The simulator's state and its AWS-protocol front door: one object holding the clock, settings, catalogue, ledger,
 * lifecycle events and fault plan, and the request pipeline every AWS call goes through in either wire protocol (read,
 * route, authenticate, inject faults, validate, run the operation, save the state when it is kept on disk, answer).
 */
import { MARKETPLACE_HOME_REGION } from '../contracts/index.ts';
import { messageOf } from '../lambdas/core/errors.ts';
import { callerHungUp } from '../local/http/request-handler.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { AwsError, readAwsJsonBody } from '../local/http/aws-json.ts';
import {
  callerFromAuthorization,
  MAX_REQUEST_BYTES,
  meteringError,
  serviceError,
  wrongRegionError,
  type Operation,
} from './marketplace-protocol.ts';
import { SimulatorClock, type ClockState } from './clock.ts';
import { ControlError } from './control-error.ts';
import { SimulatorError } from './errors.ts';
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
import type { SimulatorStateFile } from './state-file.ts';
import {
  SNAPSHOT_FORMAT,
  SNAPSHOT_VERSION,
  type SimulatorSnapshot,
  type SimulatorSnapshotToSave,
} from './state-snapshot.ts';
import { UsageSigner } from './usage-signer.ts';
import { header, protocolFor } from './wire-protocols.ts';

const handlers: Record<Operation, OperationHandler> = {
  BatchMeterUsage: batchMeterUsage,
  MeterUsage: meterUsage,
  ResolveCustomer: resolveCustomer,
  RegisterUsage: registerUsage,
  GetEntitlements: getEntitlements,
};

/** Operations whose model lists `DisabledApiException`: they refuse regions not enabled for the seller. */
const regionGatedOperations: ReadonlySet<Operation> = new Set(['BatchMeterUsage', 'ResolveCustomer', 'RegisterUsage']);

/** What a move of the clock gives an embedder at the stops on the way (`ClockJumpHandler`). */
export interface ClockStops {
  /**
   * Stops the clock at `instant` and publishes the events due by then, settling once they are on disk, when any is
   * (their pushes to subscribed URLs may start before).
   */
  at(instant: Date): Promise<void>;
  /**
   * Settles once the clock, where it stopped, is on disk (when the state is kept there): before work there that must
   * never be ahead of the clock a restart takes up, such as a run that freezes an hour. A save that fails throws, and the
   * move ends at the stop before, the last one whose work was done: moved again, it does this one's.
   */
  saved(): Promise<void>;
}

/**
 * What an embedder runs while the clock is moved forward, before the move answers: it stops the clock at instants on
 * the way, `to` included, so that what would have happened in between can happen.
 */
export type ClockJumpHandler = (from: Date, to: Date, stops: ClockStops) => Promise<void>;

/** A move of the clock that a reset overtook. */
class ClockMoveCancelledError extends SimulatorError {
  override readonly name = 'ClockMoveCancelledError';
}

export class Simulator {
  readonly clock = new SimulatorClock();
  /** Runs on every forward move of the clock through the control API (the local stack's catch-up); none by default. */
  clockJumpHandler: ClockJumpHandler | undefined;
  private clockMoves: Promise<void> = Promise.resolve();
  /** Counts resets: a move under way when the simulator is reset stops there. */
  private clockGeneration = 0;
  /** While a move stops the clock on the way: whether it will run at the end (what a snapshot taken meanwhile saves). */
  private clockMoving: { readonly running: boolean } | undefined;
  readonly signer = new UsageSigner();
  settings: Settings = defaultSettings;
  marketplace!: Marketplace;
  ledger!: MeteringLedger;
  events!: LifecycleEvents;
  faults!: FaultInjector;
  stats!: Record<Operation, OperationStats>;
  private clientTokens!: OperationContext['clientTokens'];

  /** With a `stateFile`, every change is saved to it before it is answered; without one, state lives in memory. */
  constructor(
    settings: SettingsPatch = {},
    private readonly stateFile?: SimulatorStateFile,
  ) {
    this.reset(settings);
  }

  /** Forgets everything: catalogue, billing, events, faults, statistics; settings back to defaults plus `settings`. */
  reset(settings: SettingsPatch = {}): void {
    this.clockGeneration++;
    this.events?.close();
    this.settings = { ...defaultSettings, ...settings };
    this.marketplace = new Marketplace(this.clock, () => this.settings);
    this.ledger = new MeteringLedger((warning) => console.warn(`simulator: WARNING ${warning.message}`));
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

  /** The whole state, as the state file keeps it. */
  snapshot(): SimulatorSnapshotToSave {
    return {
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      savedAt: new Date(),
      settings: this.settings,
      // Stopped on the way by a move: where it got to, running on if the move would have left it running.
      clock: this.clockMoving === undefined ? this.clock.state() : { ...this.clock.state(), ...this.clockMoving },
      marketplace: this.marketplace.state(),
      ledger: this.ledger.state(),
      events: this.events.state(),
      faults: { plan: this.faults.plan, progress: this.faults.progress() },
      stats: this.stats,
      clientTokens: [...this.clientTokens].map(([token, entry]) => ({ token, ...entry })),
      signingKeyPem: this.signer.privateKeyPem() ?? null,
    };
  }

  /**
   * Takes up a saved state, with `settings` over the saved ones. A running clock goes on by the wall-clock time since
   * the save, as if the simulator had run on; a stopped one stays where it stood.
   */
  restore(snapshot: SimulatorSnapshot, settings: SettingsPatch = {}): void {
    this.reset({ ...snapshot.settings, ...settings });
    const { now, running } = snapshot.clock;
    const stoppedForMs = running ? Math.max(0, Date.now() - snapshot.savedAt.getTime()) : 0;
    this.clock.set(new Date(now.getTime() + stoppedForMs), running);
    this.marketplace.restore(snapshot.marketplace);
    this.ledger.restore(snapshot.ledger);
    this.events.restore(snapshot.events);
    this.faults = new FaultInjector(snapshot.faults.plan, undefined, snapshot.faults.progress);
    this.stats = snapshot.stats;
    this.clientTokens = new Map(snapshot.clientTokens.map(({ token, ...entry }) => [token, entry]));
    if (snapshot.signingKeyPem !== null) this.signer.restore(snapshot.signingKeyPem);
  }

  /**
   * Moves the clock where `target` says, from where it stands once the moves before this one are done (so that two
   * advances add up), then running or not, publishing the events due by then. Forward, the `clockJumpHandler` runs
   * first, stopping the clock on the way; a reset meanwhile ends the move where the reset left the clock. Answers the
   * clock as the move left it.
   */
  moveClock(target: (current: ClockState) => ClockState): Promise<ClockState> {
    const move = this.clockMoves.then(async () => {
      const from = this.clock.state();
      const { now: to, running } = target(from);
      const generation = this.clockGeneration;
      this.clockMoving = { running };
      let failure: { readonly error: unknown } | undefined;
      const { stops, lastDone, savedPastLastDone } = this.clockStops(generation, from.now);
      try {
        if (this.clockJumpHandler !== undefined && to > from.now) {
          await this.clockJumpHandler(from.now, to, stops);
        }
      } catch (error) {
        if (!(error instanceof ClockMoveCancelledError)) failure = { error };
      }
      this.clockMoving = undefined;
      if (this.clockGeneration === generation) {
        // A move that failed on the way ends at the last stop whose work was done: moved again, it goes on from there.
        this.clock.set(failure === undefined ? to : lastDone(), running);
        this.releaseDueEvents();
        // The stop the move failed at may have been saved before its work failed: saved again where the clock went
        // back to, so that a restart does not take that stop's work as done.
        if (failure !== undefined && savedPastLastDone()) await this.saveState().catch(logSaveFailure);
      }
      if (failure !== undefined) throw failure.error;
      return this.clock.state();
    });
    this.clockMoves = move.then(
      () => undefined,
      () => undefined,
    );
    return move;
  }

  /**
   * The stops of the move made in `generation` from `from` (a reset since then ends it), the last stop whose work was
   * done (the one before the stop the move is at), and whether the state on disk is of a stop after that one.
   */
  private clockStops(
    generation: number,
    from: Date,
  ): { stops: ClockStops; lastDone: () => Date; savedPastLastDone: () => boolean } {
    let current = from;
    let previous = from;
    let savedAtMs: number | undefined;
    const overtaken = () => {
      if (this.clockGeneration !== generation)
        throw new ClockMoveCancelledError('A reset overtook the move of the clock');
    };
    const stops: ClockStops = {
      at: async (instant) => {
        overtaken();
        previous = current;
        current = instant;
        this.clock.set(instant, false);
        if (this.events.release(instant) > 0) await stops.saved();
      },
      saved: async () => {
        overtaken();
        if (savedAtMs === current.getTime()) return;
        try {
          await this.saveState();
        } catch (error) {
          throw new ControlError(
            500,
            'StateNotSaved',
            `The clock stopped at ${previous.toISOString()} on its way: the simulator's state could not be saved at ` +
              `${current.toISOString()} (${messageOf(error)}), so nothing due from then on has run. Move it again ` +
              'once it can be.',
            { cause: error },
          );
        }
        savedAtMs = current.getTime();
      },
    };
    return {
      stops,
      lastDone: () => previous,
      savedPastLastDone: () => savedAtMs !== undefined && savedAtMs > previous.getTime(),
    };
  }

  /** Saves the state to the state file, if there is one; settles once it is on disk. */
  saveState(): Promise<void> {
    return this.stateFile?.save(() => this.snapshot()) ?? Promise.resolve();
  }

  /** Records a lifecycle change and publishes whatever is due by now. */
  notify(change: LifecycleChange, license: License): void {
    const product = this.marketplace.product(license.productCode)!;
    this.events.record(change, license, product, this.clock.now());
    this.releaseDueEvents();
  }

  releaseDueEvents(): void {
    if (this.events.release(this.clock.now()) > 0) this.saveState().catch(logSaveFailure);
  }

  async handleAws(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = ids.requestId();
    const path = URL.parse(request.url ?? '/', 'http://simulator')?.pathname ?? '/';
    const protocol = protocolFor(path);
    let operation: Operation | undefined;
    try {
      const body = await readAwsJsonBody(request, MAX_REQUEST_BYTES);
      operation = protocol.operation(request, path, body);
      const caller = callerFromAuthorization(
        header(request, 'authorization'),
        header(request, 'x-amz-security-token'),
        this.settings.requireSignature,
      );
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
        await this.saveState();
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
      // The simulator knows no instance's region: the enabled regions stand in for where the buyer's resources run.
      if (operation === 'MeterUsage' && !this.settings.enabledRegions.includes(caller.region)) {
        throw meteringError(
          'InvalidEndpointRegionException',
          `The endpoint's region ${caller.region} is not the region the resource runs in`,
        );
      }
      if (operation === 'GetEntitlements' && caller.region !== MARKETPLACE_HOME_REGION) {
        throw wrongRegionError(caller.region);
      }

      const handler = handlers[operation];
      const processed = attempt(() =>
        handler(protocol.input(body), {
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
        }),
      );
      // Dropped after processing, whatever it answered: a refusal goes unheard as a success does.
      const dropAnswer = faults.drop === 'after-processing';
      if (dropAnswer) stats.dropped++;
      // What is answered is on disk first: a restart never forgets a record the caller was told is billed.
      await this.saveState();
      if (dropAnswer) {
        request.socket.destroy();
        return;
      }
      if (!processed.ok) throw processed.refusal;
      protocol.send(response, processed.result, requestId);
    } catch (error) {
      if (callerHungUp(request)) return;
      if (error instanceof AwsError) {
        // Statistics and the fault plan's progress moved even though the call failed.
        if (operation !== undefined) await this.saveState().catch(logSaveFailure);
        protocol.sendError(response, error, requestId);
        return;
      }
      console.error(`simulator: unexpected error in request ${requestId}`, error);
      const unexpected = serviceError(
        operation ?? 'BatchMeterUsage',
        'InternalServiceErrorException',
        'Unexpected simulator error',
      );
      protocol.sendError(response, unexpected, requestId);
    }
  }
}

/** An operation's answer, or the service error it refused the request with (anything else is thrown). */
function attempt<T>(operation: () => T): { ok: true; result: T } | { ok: false; refusal: AwsError } {
  try {
    return { ok: true, result: operation() };
  } catch (error) {
    if (error instanceof AwsError) return { ok: false, refusal: error };
    throw error;
  }
}

function logSaveFailure(error: unknown): void {
  console.error('simulator: could not save its state', error);
}
