/**
 * The simulator as an HTTP server: AWS-protocol calls (`POST /` with `X-Amz-Target`) for the unmodified AWS SDK
 * clients, the control API under `/control`, and the buyer page under `/buyer`.
 *
 * @example
 * const simulator = await startSimulator({ port: 4010 });
 * const metering = new MarketplaceMeteringClient({
 *   endpoint: simulator.url,
 *   region: 'us-east-1',
 *   credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
 * });
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listen } from '../local/http/listen.ts';
import { isLoopbackHost } from '../local/http/loopback-host.ts';
import { handledRequests } from '../local/http/request-handler.ts';
import { sendAwsError, serializationError } from '../local/http/aws-json.ts';
import { BuyerPage } from './buyer-page.ts';
import { ControlApi } from './control-api.ts';
import { SimulatorError } from './errors.ts';
import { ids } from './random.ts';
import type { SettingsPatch } from './settings.ts';
import { Simulator } from './simulator.ts';
import { SimulatorStateFile } from './state-file.ts';

export interface SimulatorOptions {
  /** TCP port; 0 (the default) picks a free one. */
  readonly port?: number;
  /**
   * The loopback address to listen on (default `127.0.0.1`; `::1` for IPv6): the simulator answers only requests
   * addressed to this machine, so listening on another interface would serve no one.
   */
  readonly host?: string;
  /** Settings over the defaults, and over the saved ones when the state is restored. */
  readonly settings?: SettingsPatch;
  /** Where the clock starts (default: now) and whether it runs (default) or stands still, unless state is restored. */
  readonly clock?: { readonly now?: Date; readonly running?: boolean };
  /**
   * A directory to keep the state in (`marketplace-simulator.json`), saved on every change and taken up again by the
   * next start on the same directory. Without one, the state lives in memory and goes with the process.
   */
  readonly dataDir?: string;
}

export interface RunningSimulator {
  /** The endpoint for SDK clients, e.g. `http://127.0.0.1:4010`. */
  readonly url: string;
  readonly port: number;
  /** The in-process state, for code that embeds the simulator (the HTTP control API is the public way in). */
  readonly simulator: Simulator;
  close(): Promise<void>;
}

/** A host as a URL names it: an IPv6 address in brackets. */
function urlHostOf(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** How often a running clock is checked for lifecycle events that have come due (the end of a grace period). */
const EVENT_RELEASE_INTERVAL_MS = 1000;

/**
 * @throws SimulatorError when `options.host` is not a loopback address
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  if (options.host !== undefined && !isLoopbackHost(urlHostOf(options.host))) {
    throw new SimulatorError(
      `host ${JSON.stringify(options.host)} is not a loopback address (127.x.x.x, ::1 or localhost): the simulator ` +
        'answers only requests addressed to this machine',
    );
  }
  const stateFile = options.dataDir === undefined ? undefined : new SimulatorStateFile(options.dataDir);
  try {
    return await serve(options, stateFile);
  } catch (error) {
    await stateFile?.close();
    throw error;
  }
}

async function serve(options: SimulatorOptions, stateFile: SimulatorStateFile | undefined): Promise<RunningSimulator> {
  const saved = stateFile?.load();
  const simulator = new Simulator(options.settings, stateFile);
  if (saved === undefined) simulator.clock.set(options.clock?.now ?? new Date(), options.clock?.running ?? true);
  else simulator.restore(saved, options.settings);
  const control = new ControlApi(simulator);
  const buyerPage = new BuyerPage(simulator);
  const server = createServer(
    handledRequests('simulator', (request, response) => {
      const url = URL.parse(request.url ?? '/', 'http://simulator');
      if (url === null) {
        sendAwsError(response, serializationError('The request target is not a valid path'), ids.requestId());
        return Promise.resolve();
      }
      if (within(url, '/control')) return control.handle(request, response, url);
      if (within(url, '/buyer')) return buyerPage.handle(request, response, url);
      if (request.method === 'POST') return simulator.handleAws(request, response);
      describe(request.method, url, response);
      return Promise.resolve();
    }),
  );
  const host = options.host ?? '127.0.0.1';
  const hostInUrl = urlHostOf(host);
  await listen(server, options.port ?? 0, host);
  const { port } = server.address() as AddressInfo;
  const releaseTimer = setInterval(() => simulator.releaseDueEvents(), EVENT_RELEASE_INTERVAL_MS);
  releaseTimer.unref();
  return {
    url: `http://${hostInUrl}:${port}`,
    port,
    simulator,
    close: async () => {
      clearInterval(releaseTimer);
      simulator.events.close();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
      await simulator.events.drained();
      try {
        await simulator.saveState();
      } finally {
        await stateFile?.close();
      }
    },
  };
}

function within(url: URL, prefix: string): boolean {
  return url.pathname === prefix || url.pathname.startsWith(`${prefix}/`);
}

/**
 * What a GET of the root answers: the service and where its parts are; a GET of any other path, a 404 pointing there
 * (a mistyped path must not pass for an answer); any other method, a 405.
 */
function describe(method: string | undefined, url: URL, response: ServerResponse): void {
  if (method !== 'GET' && method !== 'HEAD') {
    response.writeHead(405, { 'content-type': 'application/json; charset=utf-8', allow: 'GET, POST' });
    response.end(
      JSON.stringify({ message: `${method ?? ''} is not served here: GET describes the simulator, POST calls it` }),
    );
    return;
  }
  if (url.pathname !== '/') {
    response.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
    response.end(
      JSON.stringify({
        message: 'Nothing is served at this path: GET / describes the simulator and where its parts are',
      }),
    );
    return;
  }
  const body = JSON.stringify({
    service: 'AWS Marketplace simulator',
    protocol: 'awsJson1_1: POST / with X-Amz-Target AWSMPMeteringService.* or AWSMPEntitlementService.GetEntitlements',
    rpcV2Cbor: 'POST /service/AWSMPEntitlementService/operation/GetEntitlements with smithy-protocol: rpc-v2-cbor',
    control: '/control (see docs/simulator.md)',
    buyer: '/buyer (a web page: subscribe to a product and go on to the fulfillment URL)',
  });
  response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
  response.end(body);
}
