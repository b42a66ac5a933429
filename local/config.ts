/**
 * The local stack reads the same configuration as `cdk synth`: the `marketplace` context of `cdk.json`, validated by
 * the same schema, so the products sold locally are the ones the seller deploys.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  configFromContext,
  hasCredentials,
  parseConfig,
  WEBHOOK_URL_CREDENTIALS,
  type Config,
} from '../lib/config.ts';
import { MARKETPLACE_HOME_REGION } from '../contracts/index.ts';
import type { SimulatorControl } from '../simulator/control-client.ts';
import { LocalStackError } from './errors.ts';
import { isLoopbackHost } from './http/loopback-host.ts';
import { LOCAL_REGION } from './local-aws.ts';

/** The project's root folder, where `cdk.json` and `package.json` are. */
export const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/** The `context` of `cdk.json`, read afresh on each call (a caller may change its copy). */
export function cdkJsonContext(): Record<string, unknown> {
  return contextOfCdkJson(readFileSync(join(projectRoot, 'cdk.json'), 'utf8'));
}

/** The `context` of `cdk.json`'s text; a file that is not JSON is named, with where it breaks. */
export function contextOfCdkJson(text: string): Record<string, unknown> {
  try {
    return (JSON.parse(text) as { context: Record<string, unknown> }).context;
  } catch (error) {
    throw new ConfigError(`cdk.json is not valid JSON: ${withLine((error as Error).message, text)}`, { cause: error });
  }
}

/** Node.js 20 says where JSON breaks by its offset alone: the line and column are what an editor shows. */
function withLine(message: string, text: string): string {
  const position = /at position (\d+)(?! \(line)/.exec(message)?.[1];
  if (position === undefined) return message;
  const before = text.slice(0, Number(position)).split('\n');
  return `${message} (line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1})`;
}

export function loadLocalConfig(): Config {
  return parseConfig(configFromContext(cdkJsonContext()));
}

/**
 * Sets the simulator up as the seller's Marketplace account: the configured products listed, and the configured
 * Marketplace region enabled for the metering APIs (us-east-1 always is). A simulator that restored its state already
 * lists some: those stay as they are (their licenses refer to them), and only the products it lacks are added; the
 * regions it had enabled stay enabled.
 */
export async function configureSimulator(control: SimulatorControl, config: Config): Promise<void> {
  const { enabledRegions } = await control.settings();
  await control.updateSettings({
    enabledRegions: [...new Set([...enabledRegions, MARKETPLACE_HOME_REGION, config.marketplaceRegion])],
  });
  const listed = new Set((await control.products()).products.map((product) => product.code));
  for (const product of config.products.filter((candidate) => !listed.has(candidate.code))) {
    await control.createProduct({
      code: product.code,
      name: product.name,
      pricingModel: product.pricingModel,
      identityModel: product.identityModel,
      dimensions: product.dimensions,
    });
  }
}

/** Reads a TCP port from the environment, with a message that names the variable when it is not one. */
export function portFromEnvironment(variable: string, fallback: number): number {
  const text = process.env[variable];
  if (text === undefined || text === '') return fallback;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new LocalStackError(`${variable} must be a TCP port number (0-65535), not "${text}"`);
  }
  return port;
}

/**
 * `WEBHOOK_URL`: where `npm start` sends webhook calls, in place of `notifications.webhookUrl` (which must be https, as
 * AWS calls it over the internet). Your app runs on this machine while you develop it, so an http URL is taken too, if
 * it names this machine.
 */
export function webhookUrlFromEnvironment(): string | undefined {
  const text = process.env.WEBHOOK_URL;
  if (text === undefined || text === '') return undefined;
  // Before the message that quotes the URL: it would print the password.
  if (hasCredentials(text)) throw new LocalStackError(`WEBHOOK_URL ${WEBHOOK_URL_CREDENTIALS}`);
  const url = URL.parse(text);
  const local = url?.protocol === 'http:' && isLoopbackHost(url.host);
  if (url === null || !(url.protocol === 'https:' || local)) {
    throw new LocalStackError(
      `WEBHOOK_URL must be an https URL, or an http one on this machine (localhost, 127.x.x.x or [::1]), not ` +
        // What may be a user name and password, in a URL that does not parse, is not printed.
        `"${text.replace(/\/\/.*@/, '//…@')}"`,
    );
  }
  return url.href;
}

/**
 * The configuration as the local stack serves it: the seller's app URLs that are still `cdk.json`'s examples (on
 * example.com, which leads nowhere) point at the local stand-in for the app, keeping their path and query, so a buyer
 * who signs in or starts a trial locally lands on a page of the stack rather than on a browser error.
 */
export function withLocalAppUrls(config: Config, standInAppUrl: string): Config {
  const local = (url: string) => {
    const standIn = standInPathOf(url);
    return standIn === undefined ? url : `${standInAppUrl}${standIn}${new URL(url).search}`;
  };
  const { appUrl, freeTrialLandingUrl } = config.registration;
  return {
    ...config,
    registration: {
      ...config.registration,
      appUrl: local(appUrl),
      ...(freeTrialLandingUrl === undefined ? {} : { freeTrialLandingUrl: local(freeTrialLandingUrl) }),
    },
  };
}

/** The path under the stand-in app an example URL (on example.com) leads to locally; `undefined` for a real one. */
export function standInPathOf(url: string): string | undefined {
  const { hostname, pathname } = new URL(url);
  return hostname === 'example.com' || hostname.endsWith('.example.com') ? pathname : undefined;
}

/**
 * The region the API is deployed in, which calls to its IAM routes are signed for, locally as in AWS: `region`, or,
 * unset, us-east-1 (where a stack without one must go to hear from Marketplace).
 */
export function apiRegionOf(config: Pick<Config, 'region'>): string {
  return config.region ?? LOCAL_REGION;
}
