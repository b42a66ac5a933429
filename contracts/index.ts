/**
 * The names and shapes the stack (`lib/`), the functions (`lambdas/`), the local stack (`local/`), the simulator and
 * the benchmarks share: plain data and types, with no import from outside this folder, so that each side imports them
 * rather than writing them again. A test over the import graph (`test/unit/import-boundaries.test.ts`) keeps it so.
 */
export * from './buyer-pages.ts';
export * from './function-environment.ts';
export * from './item-keys.ts';
export * from './marketplace-acceptance.ts';
export * from './metering-metrics.ts';
export * from './product-codes.ts';
export * from './queue-consumers.ts';
export * from './regions.ts';
export * from './seller-events.ts';
export * from './tables.ts';
