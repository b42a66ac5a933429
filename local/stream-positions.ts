/**
 * Where a local stream poller has read each table's stream up to, kept across restarts: `local-stream-positions.json`
 * in the data directory (`SavedState`), beside the tables whose streams DynamoDB Local keeps there too. A change written
 * just before `npm start` stopped, or was killed, and not yet handed to its function is handed over after the restart,
 * as Lambda's event source mapping would hand it over: nothing announced twice, nothing skipped.
 */
import { z } from 'zod';
import { SavedState } from './saved-state.ts';

export const STREAM_POSITIONS_FILE_NAME = 'local-stream-positions.json';

export class StreamPositions {
  private readonly state: SavedState<Record<string, string>>;
  private readonly positions: Record<string, string>;

  constructor(dataDir: string) {
    this.state = new SavedState(
      dataDir,
      STREAM_POSITIONS_FILE_NAME,
      'local-stream-positions/1',
      z.record(z.string(), z.string()),
    );
    this.positions = this.state.load() ?? {};
  }

  get path(): string {
    return this.state.path;
  }

  /** The sequence number of the last record handled of the table's shard, if any was. */
  of(tableName: string, shardId: string): string | undefined {
    return this.positions[`${tableName}/${shardId}`];
  }

  /** Records that the shard's records up to `sequenceNumber` are handled; settles once it is on disk. */
  handled(tableName: string, shardId: string, sequenceNumber: string): Promise<void> {
    this.positions[`${tableName}/${shardId}`] = sequenceNumber;
    return this.state.save(() => this.positions);
  }
}
