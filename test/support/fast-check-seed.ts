/**
 * Every property test of a run starts from one seed: `FC_SEED` (a whole number, or `random` to explore), else a fixed
 * one, so that `npm test` checks the same cases every time. A failure prints its seed and path to replay.
 */
import fc from 'fast-check';
import { seedFrom } from './seeded-random.ts';

fc.configureGlobal({ seed: seedFrom('FC_SEED', 1) });
