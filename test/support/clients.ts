import WebSocket from 'ws';
import type { ClientEvents, RohrpostClientOptions } from '../../client/src';
import { RohrpostClient } from '../../client/src';
import { WAIT_GUARD_MS } from './hang-guard';

/**
 * Clients for the tests of a file: each is closed after its test, and the file fails if
 * anything, the clients' work included, leaves a promise rejection unhandled. Their calls wait
 * for the reply up to a hang guard, not the client's 10 s, unless a test gives a timeout.
 */
export function useClients(): (url: string, options?: Partial<RohrpostClientOptions>) => RohrpostClient {
  const clients: RohrpostClient[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeAll(() => process.on('unhandledRejection', onUnhandled));
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });
  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).toEqual([]);
  });
  return (url, options = {}) => {
    const client = new RohrpostClient({ url, WebSocket, callTimeoutMs: WAIT_GUARD_MS, ...options });
    clients.push(client);
    return client;
  };
}

/** Every event of one kind the client emits from now on. */
export function events<K extends keyof ClientEvents>(from: RohrpostClient, name: K): Array<ClientEvents[K]> {
  const seen: Array<ClientEvents[K]> = [];
  from.on(name, (event) => seen.push(event));
  return seen;
}
