import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { RohrpostClientOptions, Subscription, Update, RohrpostClient } from '../../client/src';
import { AbortError, ConnectionClosedError, RohrpostError, TimeoutError } from '../../client/src';
import { defineConfig } from '../../lambdas/rohrpost/config';
import { fixtureConfig } from '../fixtures/app/config';
import { useFixtureSandbox } from '../support/fixture-sandbox';
import { events, useClients } from '../support/clients';
import { WAIT_GUARD_MS } from '../support/hang-guard';
import { eventually } from '../support/recording-reporter';

const openClient = useClients();
const clientOf = (fixture: ReturnType<typeof useFixtureSandbox>, options?: Partial<RohrpostClientOptions>) =>
  openClient(fixture.sandbox.websocketUrl, options);

/** Collects a subscription's updates, and resolves once the server confirmed it. */
async function watch(rohrpost: RohrpostClient, group: Parameters<RohrpostClient['subscribe']>[0]) {
  const subscription = rohrpost.subscribe<Record<string, unknown>>(group);
  const updates: Array<Update<Record<string, unknown>>> = [];
  const refetches: unknown[] = [];
  subscription.on('update', (update) => updates.push(update));
  subscription.on('refetch', (event) => refetches.push(event));
  await subscribed(subscription);
  return { subscription, updates, refetches };
}

/** Resolves at the subscription's next confirmation by the server. */
function subscribed<T>(subscription: Subscription<T>): Promise<void> {
  return new Promise((resolve) => {
    const off = subscription.on('subscribed', () => (off(), resolve()));
  });
}

/** The client against the sandbox: real sockets, real DynamoDB Local streams, real recovery. */
describe('the client against the sandbox', () => {
  const fixture = useFixtureSandbox();
  const client = (options?: Partial<RohrpostClientOptions>) => clientOf(fixture, options);
  let management: ApiGatewayManagementApiClient;

  beforeAll(() => {
    management = new ApiGatewayManagementApiClient({ endpoint: fixture.sandbox.managementEndpoint });
  });
  afterAll(() => management.destroy());

  const connectionIdOf = async (rohrpost: RohrpostClient) =>
    (await rohrpost.call<{ connectionId: string }>('whoami')).connectionId;
  const dropServerSide = async (connectionId: string) =>
    management.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));

  test("the README's Node example runs as written", async () => {
    const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
    const example = /```ts\n(\/\/ ping\.ts[\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    const folder = mkdtempSync(join(tmpdir(), 'readme-client-'));
    try {
      const script = join(folder, 'ping.mts');
      writeFileSync(
        script,
        example!
          .replace("'@rohrpost/client'", JSON.stringify(join(__dirname, '../../client/src/index.ts')))
          .replace("'ws'", JSON.stringify(require.resolve('ws')))
          .replace('ws://localhost:3001', fixture.sandbox.websocketUrl),
      );
      // Not execFileSync: the sandbox runs in this process and must go on answering.
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], {
        encoding: 'utf8',
        cwd: join(__dirname, '../..'),
      });
      expect(stdout.trim()).toBe("{ hello: 'world' }");
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  describe('calls, as PROTOCOL.md says', () => {
    test('ping resolves with pong, its data echoed or wrapped', async () => {
      const rohrpost = client();
      expect(await rohrpost.call('ping')).toBeUndefined();
      expect(await rohrpost.call('ping', { a: 1 })).toEqual({ a: 1 });
      expect(await rohrpost.call('ping', [1, 2])).toEqual({ data: [1, 2] });
    });

    test("an unknown type and a handler failure reject with the protocol's texts", async () => {
      const rohrpost = client();
      await expect(rohrpost.call('nope')).rejects.toEqual(
        new RohrpostError('nope', "Unknown message type 'nope'."),
      );
      // broadcast without data fails inside the handler: an internal error, not a crash.
      await expect(rohrpost.call('broadcast')).rejects.toMatchObject({
        name: 'RohrpostError',
        error: 'Internal server error.',
      });
      await expect(rohrpost.call('subscribe', 5)).rejects.toMatchObject({
        error: 'Not allowed to subscribe to this group.',
      });
    });

    test('timeouts, aborts, and a connection closed before the reply reject', async () => {
      const rohrpost = client();
      await expect(rohrpost.call('slow', { ms: 300 }, { timeoutMs: 50 })).rejects.toBeInstanceOf(
        TimeoutError,
      );
      const controller = new AbortController();
      const aborted = rohrpost.call('slow', { ms: 300 }, { signal: controller.signal });
      setTimeout(() => controller.abort(), 20);
      await expect(aborted).rejects.toBeInstanceOf(AbortError);
      const connectionId = await connectionIdOf(rohrpost);
      // The handler sleeps far longer than one DeleteConnection takes: its reply cannot come first.
      const cut = rohrpost.call('slow', { ms: 20_000 }, { timeoutMs: WAIT_GUARD_MS });
      await dropServerSide(connectionId);
      await expect(cut).rejects.toBeInstanceOf(ConnectionClosedError);
      expect(await rohrpost.call('ping', { back: true })).toEqual({ back: true });
    });

    test('close() rejects what is pending', async () => {
      const rohrpost = client();
      await rohrpost.call('ping');
      const pending = rohrpost.call('slow', { ms: 500 });
      rohrpost.close();
      await expect(pending).rejects.toBeInstanceOf(ConnectionClosedError);
    });
  });

  describe('subscriptions', () => {
    test('a direct DynamoDB write reaches the subscriber; after unsubscribe nothing does', async () => {
      const rohrpost = client();
      const { subscription, updates } = await watch(rohrpost, { type: 'item', id: 'c-direct' });
      expect(subscription.name).toBe('item-c-direct');
      await fixture.put('items', { id: 'c-direct', name: 'one' });
      await eventually(() => updates.length === 1);
      expect(updates[0]).toEqual({
        group: 'item-c-direct',
        type: 'create',
        object: { id: 'c-direct', name: 'one' },
        seq: 1,
        epoch: expect.any(String),
        id: expect.any(Number),
      });
      await subscription.unsubscribe();
      const { updates: witness } = await watch(client(), { type: 'item', id: 'c-direct' });
      await fixture.put('items', { id: 'c-direct', name: 'two' });
      await eventually(() => witness.length === 1);
      expect(updates).toHaveLength(1);
    });

    test('after the server drops the connection, the client reconnects and recovers what it missed', async () => {
      let gate: (() => void) | undefined;
      let closed = false;
      const rohrpost = client({
        reconnect: { initialDelayMs: 10, maxDelayMs: 10 },
        // Holds the reconnect until the test has written what the client will miss.
        token: () => (closed ? new Promise((resolve) => (gate = () => resolve(undefined))) : undefined),
      });
      const recovered = events(rohrpost, 'recovered');
      const reconnecting = events(rohrpost, 'reconnecting');
      rohrpost.on('close', () => (closed = true));
      const { updates } = await watch(rohrpost, { type: 'item', id: 'c-drop' });
      await fixture.put('items', { id: 'c-drop', name: 'before' });
      await eventually(() => updates.length === 1);

      await dropServerSide(await connectionIdOf(rohrpost));
      await eventually(() => gate !== undefined);
      const { updates: witness } = await watch(client(), { type: 'item', id: 'c-drop' });
      for (const name of ['missed 1', 'missed 2']) await fixture.put('items', { id: 'c-drop', name });
      await eventually(() => witness.length === 2);
      closed = false;
      gate!();

      await eventually(() => updates.length === 3);
      expect(updates.map((update) => [update.seq, update.object.name])).toEqual([
        [1, 'before'],
        [2, 'missed 1'],
        [3, 'missed 2'],
      ]);
      expect(updates.slice(1).map((update) => update.id)).toEqual(witness.map((update) => update.id));
      expect(reconnecting).toHaveLength(1);
      expect(recovered).toEqual([{ group: 'item-c-drop', recovered: true, missed: 2 }]);
    });

    test('a position that cannot be recovered asks the application to refetch', async () => {
      const rohrpost = client();
      const recovered = events(rohrpost, 'recovered');
      const subscription = rohrpost.subscribe(
        { type: 'item', id: 'c-stale' },
        { since: { epoch: 'gone', seq: 7 } },
      );
      const refetch = new Promise((resolve) => subscription.on('refetch', resolve));
      expect(await refetch).toEqual({
        group: 'item-c-stale',
        position: { epoch: expect.any(String), seq: 0 },
      });
      expect(recovered).toEqual([{ group: 'item-c-stale', recovered: false, missed: 0 }]);
    });

    test('a refused subscription ends with an error, and nothing goes unhandled', async () => {
      const rohrpost = client();
      const errors = events(rohrpost, 'error');
      const subscription = rohrpost.subscribe(5 as never);
      const error = await new Promise((resolve) => subscription.on('error', resolve));
      expect(error).toMatchObject({
        name: 'RohrpostError',
        error: 'Not allowed to subscribe to this group.',
      });
      expect(errors).toEqual([error]);
    });
  });
});

describe('the client with a short maximum connection age', () => {
  // The sandbox cuts connections at 30 s, as API Gateway does at 2 hours; the client rolls over
  // after 0.7 s. A connection lives that long plus the work of two rollovers (its own handshake and
  // resubscribe, then its successor's), which a busy machine stretches to seconds: the limit leaves
  // room for that, as API Gateway's leaves the client 10 minutes.
  const fixture = useFixtureSandbox({ limits: { maxConnectionMs: 30_000 } });

  test('the rollover before the age limit opens the next connection first: no gap, no reconnect', async () => {
    const rohrpost = clientOf(fixture, { maxConnectionAgeMs: 700 });
    const opens = events(rohrpost, 'open');
    const closes = events(rohrpost, 'close');
    const reconnecting = events(rohrpost, 'reconnecting');
    const { updates } = await watch(rohrpost, { type: 'item', id: 'c-roll' });
    // Changes keep coming until the client has rolled over three times, however long that takes
    // on a busy machine, and a few after.
    const rollovers = () => opens.filter((open) => open.rollover).length;
    let written = 0;
    for (let after = 0; after < 3; after += rollovers() >= 3 ? 1 : 0) {
      await fixture.put('items', { id: 'c-roll', name: `v${++written}` });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await eventually(() => updates.length === written);
    expect(updates.map((update) => update.seq)).toEqual(Array.from({ length: written }, (_, i) => i + 1));
    expect(rollovers()).toBeGreaterThanOrEqual(3);
    // The client closed each connection it replaced; the sandbox cut none at its age limit.
    expect(closes).toEqual([]);
    expect(reconnecting).toEqual([]);
  });
});

describe('the client against a server without history', () => {
  const fixture = useFixtureSandbox({
    config: defineConfig({
      ...fixtureConfig,
      notifications: { ...fixtureConfig.notifications, history: false, lanes: false },
    }),
  });

  test('subscriptions resubscribe plainly and never refetch', async () => {
    const rohrpost = clientOf(fixture, { reconnect: { initialDelayMs: 10, maxDelayMs: 10 } });
    const { subscription, updates, refetches } = await watch(rohrpost, { type: 'item', id: 'c-plain' });
    expect(subscription.position).toBeUndefined();
    await fixture.put('items', { id: 'c-plain', name: 'one' });
    await eventually(() => updates.length === 1);
    rohrpost.dropConnection();
    await subscribed(subscription);
    await fixture.put('items', { id: 'c-plain', name: 'two' });
    await eventually(() => updates.length === 2);
    expect(updates.map((update) => [update.object.name, update.seq])).toEqual([
      ['one', undefined],
      ['two', undefined],
    ]);
    expect(refetches).toEqual([]);
  });
});
