/**
 * How far the Marketplace message relay has queued each family of the simulator's events, kept across restarts:
 * `local-relayed-events.json` in the data directory (`SavedState`). The simulator may have published an event (its
 * feed keeps it) and not yet pushed it when the stack stops, even by `kill -9`; at the next start the relay queues
 * what the feed holds past this mark, as EventBridge and SNS deliver a message they have taken whatever happens to the
 * seller's functions.
 */
import { z } from 'zod';
import type { EventFormat } from '../simulator/lifecycle-events.ts';
import { SavedState } from './saved-state.ts';

export const RELAYED_EVENTS_FILE_NAME = 'local-relayed-events.json';

export class RelayedEvents {
  private readonly state: SavedState<Partial<Record<EventFormat, number>>> | undefined;
  private readonly marks: Partial<Record<EventFormat, number>>;
  /** Whether a mark was kept from an earlier run: without one, nothing is known to be missing. */
  readonly kept: boolean;

  /** Without a data directory the marks live in memory, as everything else does then. */
  constructor(dataDir?: string) {
    this.state =
      dataDir === undefined
        ? undefined
        : new SavedState(
            dataDir,
            RELAYED_EVENTS_FILE_NAME,
            'local-relayed-events/1',
            z.partialRecord(z.enum(['eventbridge', 'sns']), z.number().int().nonnegative()),
          );
    const loaded = this.state?.load();
    this.kept = loaded !== undefined;
    this.marks = { ...loaded };
  }

  /** The sequence of the last event of `format` queued; 0 when none is known. */
  of(format: EventFormat): number {
    return this.marks[format] ?? 0;
  }

  /** Records that the events of `format` up to `sequence` are queued; settles once it is on disk. */
  async relayed(format: EventFormat, sequence: number): Promise<void> {
    this.marks[format] = sequence;
    await this.state?.save(() => this.marks);
  }
}
