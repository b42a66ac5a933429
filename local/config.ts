/**
 * The local stack reads the same configuration as `cdk synth`: the `marketplace` context of `cdk.json`, validated by
 * the same schema, so the products sold locally are the ones the seller deploys.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configFromContext, parseConfig, type Config } from '../lib/config.ts';
import type { SimulatorControl } from './simulator/control-client.ts';

/** The project's root folder, where `cdk.json` and `package.json` are. */
export const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/** The `context` of `cdk.json`, read afresh on each call (a caller may change its copy). */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(projectRoot, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  return cdkJson.context;
}

export function loadLocalConfig(): Config {
  return parseConfig(configFromContext(cdkJsonContext()));
}

/**
 * Sets the simulator up as the seller's Marketplace account: the configured products listed, and the configured
 * Marketplace region enabled for the metering APIs (us-east-1 always is).
 */
export async function configureSimulator(control: SimulatorControl, config: Config): Promise<void> {
  await control.updateSettings({ enabledRegions: [...new Set(['us-east-1', config.marketplaceRegion])] });
  for (const product of config.products) {
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
    throw new Error(`${variable} must be a TCP port number (0-65535), not "${text}"`);
  }
  return port;
}
