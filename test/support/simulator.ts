/**
 * A Marketplace simulator per test file, reached only as a client would reach it: the real AWS SDK clients through
 * their `endpoint` setting, and the control API over HTTP. Every test starts from an empty simulator whose clock
 * stands still at {@link SIMULATOR_NOW}.
 */
import { MarketplaceEntitlementServiceClient } from '@aws-sdk/client-marketplace-entitlement-service';
import { MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { loadLocalConfig } from '../../local/config.ts';
import { SimulatorControl, type ProductInput } from '../../simulator/control-client.ts';
import { startSimulator, type RunningSimulator } from '../../simulator/server.ts';
import type { SettingsPatch } from '../../simulator/settings.ts';

/** Mid-month and mid-hour, so that neither the month-end rule nor an hour boundary is crossed by accident. */
export const SIMULATOR_NOW = new Date('2026-11-18T12:30:00Z');

export interface SimulatorHarness {
  readonly url: string;
  readonly control: SimulatorControl;
  /** Metering client that does not retry, so each rule's answer arrives as it was given. */
  readonly metering: MarketplaceMeteringClient;
  readonly entitlements: MarketplaceEntitlementServiceClient;
}

export const localCredentials = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' };

export function meteringClient(
  url: string,
  options: { region?: string; maxAttempts?: number; accessKeyId?: string; sessionToken?: string } = {},
): MarketplaceMeteringClient {
  return new MarketplaceMeteringClient({
    endpoint: url,
    region: options.region ?? 'us-east-1',
    maxAttempts: options.maxAttempts ?? 1,
    credentials: {
      ...localCredentials,
      accessKeyId: options.accessKeyId ?? localCredentials.accessKeyId,
      ...(options.sessionToken === undefined ? {} : { sessionToken: options.sessionToken }),
    },
  });
}

export function useSimulator(settings: SettingsPatch = {}): SimulatorHarness {
  const harness = {} as { -readonly [K in keyof SimulatorHarness]: SimulatorHarness[K] };
  let running: RunningSimulator;
  beforeAll(async () => {
    running = await startSimulator();
    harness.url = running.url;
    harness.control = new SimulatorControl(running.url);
    harness.metering = meteringClient(running.url);
    harness.entitlements = new MarketplaceEntitlementServiceClient({
      endpoint: running.url,
      region: 'us-east-1',
      maxAttempts: 1,
      credentials: localCredentials,
    });
  });
  beforeEach(async () => {
    await harness.control.reset();
    await harness.control.setClock(SIMULATOR_NOW, false);
    if (Object.keys(settings).length > 0) await harness.control.updateSettings(settings);
  });
  afterAll(async () => {
    harness.metering.destroy();
    harness.entitlements.destroy();
    await running.close();
  });
  return harness;
}

export function uniqueProductCode(): string {
  return `prod${randomBytes(6).toString('hex')}`;
}

/** A pay-as-you-go product with two metered dimensions, `users` and `gb`. */
export function meteredProduct(overrides: Partial<ProductInput> = {}): ProductInput {
  return {
    code: uniqueProductCode(),
    name: 'Test product',
    pricingModel: 'subscriptions',
    identityModel: 'license',
    dimensions: [
      { name: 'users', kind: 'metered' },
      { name: 'gb', kind: 'metered' },
    ],
    ...overrides,
  };
}

/** A product of `cdk.json`, as the local stack lists it in the simulator: for tests of commands that read it there. */
export function configuredProduct(code: string): ProductInput {
  const product = loadLocalConfig().products.find((candidate) => candidate.code === code);
  if (product === undefined) throw new Error(`cdk.json sells no product ${code}`);
  const { name, pricingModel, identityModel, dimensions } = product;
  return { code, name, pricingModel, identityModel, dimensions };
}

/** Epoch-free arithmetic for tests: `minutesFrom(SIMULATOR_NOW, -90)`. */
export function minutesFrom(instant: Date, minutes: number): Date {
  return new Date(instant.getTime() + minutes * 60_000);
}
