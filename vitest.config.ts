import { defineConfig } from 'vitest/config';
import './local/sdk-environment.ts';

// One project per test layer; `npm test` runs them all. Integration tests share one DynamoDB Local started by the
// global setup (each file makes its own tables) and start their own in-process simulator.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          setupFiles: ['test/support/fast-check-seed.ts'],
          // Not the default 5 s: the property-based tests are CPU-bound, and on a machine loaded ~10x a few of them
          // took longer. A timeout here catches a hang, never a slow machine.
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          setupFiles: ['test/support/fast-check-seed.ts'],
          globalSetup: ['test/support/dynamodb-global-setup.ts'],
          // Every endpoint is local: dummy credentials, so that real ones can never be sent anywhere.
          env: { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' },
          // Many tests start processes (a cold `node --import tsx` takes seconds on a loaded machine, a JVM more):
          // the limit catches a hang, never a slow machine.
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          setupFiles: ['test/support/synthesis-scratch.ts'],
          testTimeout: 120_000,
          // Some files import the handlers cold in beforeAll, which on a loaded machine takes far over the default 10 s.
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          env: { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' },
          testTimeout: 60_000,
          hookTimeout: 90_000,
        },
      },
      {
        test: {
          name: 'blackbox',
          include: ['test/blackbox/**/*.test.ts'],
          env: { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' },
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
