/**
 * Randomness that a seed fully determines (the simulator's mulberry32, with conveniences for generating inputs), so
 * that a fuzz run that fails can be replayed exactly by giving it the same seed.
 */
import { randomInt } from 'node:crypto';
import { SeededRandom as Mulberry32 } from '../../simulator/random.ts';

export class SeededRandom extends Mulberry32 {
  constructor(readonly seed: number) {
    super(seed);
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick() from nothing');
    return items[this.int(0, items.length - 1)]!;
  }

  bytes(length: number): Buffer {
    return Buffer.from(Array.from({ length }, () => this.int(0, 255)));
  }

  string(length: number, alphabet: string): string {
    return Array.from({ length }, () => alphabet[this.int(0, alphabet.length - 1)]).join('');
  }
}

/**
 * The seed the variable holds (a whole number); `random` for a fresh one, to explore new inputs; unset, `fixed`, so
 * that `npm test` is the same run every time and a new counterexample never fails an unrelated change.
 */
export function seedFrom(variable: string, fixed: number, environment: NodeJS.ProcessEnv = process.env): number {
  const text = environment[variable];
  if (text === undefined || text === '') return fixed;
  if (text === 'random') return randomInt(2 ** 32);
  const seed = Number(text);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new Error(`${variable} must be a whole number from 0 to ${2 ** 32 - 1}, or random, not "${text}"`);
  }
  return seed;
}
