/**
 * Every property test starts from a seed of its own, drawn from `FC_SEED` (a whole number, or `random` to explore;
 * else a fixed one) and the test's name: `npm test` checks the same cases every time, and two properties of a file do
 * not draw the same values. A failure prints its seed and path to replay (with `fc.assert(..., { seed, path })`).
 */
import fc from 'fast-check';
import { beforeEach } from 'vitest';
import { seedFrom } from './seeded-random.ts';

const runSeed = seedFrom('FC_SEED', 1);

beforeEach(({ task }) => {
  fc.configureGlobal({ seed: fnv1a(`${runSeed}:${task.name}`) });
});

/** A 32-bit FNV-1a hash: a stable, well-spread seed from a text. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const char of text) hash = Math.imul(hash ^ char.codePointAt(0)!, 0x01000193) >>> 0;
  return hash | 0;
}
