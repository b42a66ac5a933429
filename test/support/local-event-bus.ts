/**
 * A local event bus of a test file's own, started before its tests and closed after them, with the real EventBridge
 * client pointed at it (dummy credentials: nothing real is ever signed for it).
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll } from 'vitest';
import { startLocalEventBus, type LocalEventBus } from '../../local/event-bus.ts';

export interface LocalEventBusHarness {
  readonly bus: LocalEventBus;
  readonly client: EventBridgeClient;
}

export function useLocalEventBus(busName: string): LocalEventBusHarness {
  let started: LocalEventBusHarness | undefined;
  beforeAll(async () => {
    const bus = await startLocalEventBus({ busName });
    const client = new EventBridgeClient({
      endpoint: bus.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    started = { bus, client };
  });
  afterAll(async () => {
    started?.client.destroy();
    await started?.bus.close();
  });
  const running = () => {
    if (started === undefined) throw new Error('useLocalEventBus(): the bus starts in beforeAll');
    return started;
  };
  return {
    get bus() {
      return running().bus;
    },
    get client() {
      return running().client;
    },
  };
}
