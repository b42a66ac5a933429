/**
 * Processes of the metering chaos suite dying and their tables failing, in-process: a kill switch on a process's SDK
 * clients lets its N-th AWS call go out, or not, and from then on every call fails and every answer is lost, which is
 * what a Lambda killed mid-run looks like to the data; a flaky table fails DynamoDB calls now and then, before they
 * reach the table or after it applied them.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, type DynamoDBDocumentClient as DocumentClient } from '@aws-sdk/lib-dynamodb';
import type { FlakyTable, KillPlan } from './chaos-schedule.ts';
import { SeededRandom } from './seeded-random.ts';

/** The process died: nothing in the code under test should catch this for good. */
export class Crash extends Error {
  override readonly name = 'Crash';

  /** Whether the call it interrupted had gone out (and may have been processed). */
  constructor(readonly sent: boolean) {
    super(sent ? 'process killed after the call went out' : 'process killed');
  }
}

/** A DynamoDB call that failed in transit: the run must treat it as it treats any failed write or read. */
export class FlakyTableError extends Error {
  override readonly name = 'FlakyTableError';

  constructor(readonly applied: boolean) {
    super(applied ? 'the answer was lost after DynamoDB applied the call' : 'the call never reached DynamoDB');
  }
}

/** Fails DynamoDB calls now and then, as `FlakyTable` says. */
export class TableFlakiness {
  failures = 0;
  private readonly random: SeededRandom;

  constructor(private readonly plan: FlakyTable) {
    this.random = new SeededRandom(plan.seed);
  }

  async around<T>(call: () => Promise<T>): Promise<T> {
    if (!this.random.chance(this.plan.probability)) return call();
    this.failures++;
    const after = this.plan.when === 'either' ? this.random.chance(0.5) : this.plan.when === 'after';
    if (!after) throw new FlakyTableError(false);
    try {
      await call();
    } catch {
      // Lost with the rest of the answer.
    }
    throw new FlakyTableError(true);
  }
}

/**
 * Counts a process's AWS calls and kills it at the planned one: `before` it goes out, or `after` the service processed
 * it. From then on nothing goes out and no answer is read.
 */
export class KillSwitch {
  dead = false;
  private operations = 0;

  constructor(private readonly plan: (Omit<KillPlan, 'at'> & { readonly afterOps: number }) | undefined) {}

  async around<T>(isMetering: boolean, call: () => Promise<T>): Promise<T> {
    if (this.dead) throw new Crash(false);
    const plan = this.plan;
    if (plan !== undefined && (plan.target === 'any' || isMetering) && ++this.operations === plan.afterOps) {
      if (plan.when === 'before') {
        this.dead = true;
        throw new Crash(false);
      }
      try {
        await call();
      } catch {
        // The answer is lost either way.
      }
      this.dead = true;
      throw new Crash(true);
    }
    let result: T;
    try {
      result = await call();
    } catch (error) {
      if (this.dead) throw new Crash(true);
      throw error;
    }
    // The answer arrives at a dead process.
    if (this.dead) throw new Crash(true);
    return result;
  }

  readonly sleep = (): Promise<void> => (this.dead ? Promise.reject(new Crash(false)) : Promise.resolve());
}

/** A document client on a client of its own, behind the kill switch and the flaky table when there are. */
export function documentsWith(
  endpoint: string,
  killSwitch?: KillSwitch,
  flakiness?: TableFlakiness,
): { client: DocumentClient; destroy: () => void } {
  const base = new DynamoDBClient({ endpoint });
  if (killSwitch !== undefined || flakiness !== undefined) {
    base.middlewareStack.add(
      (next) => (args) => {
        const call = () => next(args);
        const flaky = flakiness === undefined ? call : () => flakiness.around(call);
        return killSwitch === undefined ? flaky() : killSwitch.around(false, flaky);
      },
      { step: 'initialize', name: 'chaosKillSwitch' },
    );
  }
  const client = DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } });
  return { client, destroy: () => base.destroy() };
}
