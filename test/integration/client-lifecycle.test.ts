import type { Update } from '../../client/src';
import {
  AbortError,
  backoffDelay,
  ConnectionClosedError,
  RohrpostClient,
  RohrpostError,
  TimeoutError,
} from '../../client/src';
import { events, useClients } from '../support/clients';
import { WAIT_GUARD_MS } from '../support/hang-guard';
import { eventually } from '../support/recording-reporter';
import { ScriptedServer } from '../support/scripted-server';

/**
 * The client's connection lifecycle against a scripted server over loopback: what it sends,
 * how it reconnects, keeps alive and reports, where the sandbox cannot be made to misbehave.
 */
describe('the client against a scripted server', () => {
  const servers: ScriptedServer[] = [];
  const client = useClients();

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  });

  async function server(respond?: Parameters<typeof ScriptedServer.start>[0]): Promise<ScriptedServer> {
    const started = await ScriptedServer.start(respond);
    servers.push(started);
    return started;
  }

  test('the token goes into the URL of every connection and onto every message as auth_jwt', async () => {
    const scripted = await server();
    let issued = 0;
    const rohrpost = client(scripted.url, { token: () => Promise.resolve(`t${++issued}`) });
    expect(await rohrpost.call('echo', { a: 1 })).toEqual({ a: 1 });
    const first = await scripted.connection(1);
    expect(first.url).toBe('/?token=t1');
    expect(first.received[0]).toEqual({
      id: expect.any(String),
      type: 'echo',
      data: { a: 1 },
      auth_jwt: 't1',
    });
    first.socket.terminate();
    await scripted.connection(2);
    expect(scripted.connections[1]!.url).toBe('/?token=t2');
  });

  test('the token parameter can be named, and auth_jwt left out', async () => {
    const scripted = await server();
    const rohrpost = client(`${scripted.url}prod?x=1`, {
      token: () => 'secret',
      tokenParameter: 'access_token',
      authJwt: false,
    });
    await rohrpost.call('echo');
    const connection = await scripted.connection();
    expect(connection.url).toBe('/prod?x=1&access_token=secret');
    expect(connection.received[0]).not.toHaveProperty('auth_jwt');
  });

  test('replies are matched by id, whatever their type; error replies reject with what they carry', async () => {
    const scripted = await server((message) =>
      message.type === 'refuse'
        ? { id: message.id, type: 'refuse', error: { code: 'no' }, data: { why: 'test' } }
        : { id: message.id, type: 'pong', data: { for: message.type } },
    );
    const rohrpost = client(scripted.url);
    const [a, b] = await Promise.all([rohrpost.call('first'), rohrpost.call('second')]);
    expect([a, b]).toEqual([{ for: 'first' }, { for: 'second' }]);
    const refused = await rohrpost.call('refuse').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RohrpostError);
    expect(refused).toMatchObject({ type: 'refuse', error: { code: 'no' }, data: { why: 'test' } });
  });

  test('server-initiated messages of any type reach the message listeners, never an error', async () => {
    const scripted = await server();
    const rohrpost = client(scripted.url);
    const messages = events(rohrpost, 'message');
    const errors = events(rohrpost, 'error');
    await rohrpost.call('echo');
    const connection = await scripted.connection();
    connection.send({ id: 77, type: 'news', data: { headline: 'x' } });
    connection.send({ message: 'Endpoint request timed out', connectionId: 'c', requestId: 'r' });
    connection.send('not json');
    connection.send('[1, 2]');
    await eventually(() => messages.length === 2);
    expect(messages).toEqual([
      { id: 77, type: 'news', data: { headline: 'x' } },
      { message: 'Endpoint request timed out', connectionId: 'c', requestId: 'r' },
    ]);
    expect(errors).toEqual([]);
  });

  test('calls made while offline go out once connected; their timeout runs meanwhile', async () => {
    const scripted = await server();
    // Offline until the short call has timed out: every handshake is refused until then, so no
    // server can have answered it, however slow the machine.
    scripted.refuseNext = Infinity;
    const rohrpost = client(scripted.url, { reconnect: { initialDelayMs: 50, maxDelayMs: 100 } });
    const slow = rohrpost.call('echo', 'late', { timeoutMs: 20 }).catch((error: unknown) => error);
    const patient = rohrpost.call('echo', 'on time', { timeoutMs: WAIT_GUARD_MS });
    expect(await slow).toBeInstanceOf(TimeoutError);
    expect(scripted.connections).toEqual([]);
    scripted.refuseNext = 0;
    expect(await patient).toBe('on time');
    const connection = await scripted.connection();
    expect(connection.received.map((message) => message.data)).toEqual(['on time']);
  });

  test('a call rejects on abort, on timeout, and when its connection closes before the reply', async () => {
    const scripted = await server((message) => (message.type === 'never' ? undefined : { id: message.id }));
    const rohrpost = client(scripted.url);
    await rohrpost.call('echo');
    const controller = new AbortController();
    const aborted = rohrpost.call('never', undefined, { signal: controller.signal }).catch((e: unknown) => e);
    controller.abort();
    expect(await aborted).toBeInstanceOf(AbortError);
    expect(
      await rohrpost.call('x', undefined, { signal: AbortSignal.abort() }).catch((e: unknown) => e),
    ).toBeInstanceOf(AbortError);
    expect(await rohrpost.call('never', undefined, { timeoutMs: 30 }).catch((e: unknown) => e)).toMatchObject(
      {
        name: 'TimeoutError',
        message: "No reply to 'never' within 30 ms.",
      },
    );
    const cut = rohrpost.call('never').catch((e: unknown) => e);
    await eventually(() => scripted.connections[0]!.received.length === 3);
    scripted.connections[0]!.socket.close(4001, 'bye');
    expect(await cut).toMatchObject({ name: 'ConnectionClosedError', code: 4001, reason: 'bye' });
  });

  test('close() rejects pending calls, refuses new ones, and does not reconnect', async () => {
    const scripted = await server(() => undefined);
    const rohrpost = client(scripted.url, { reconnect: { initialDelayMs: 10, maxDelayMs: 10 } });
    const closes = events(rohrpost, 'close');
    const reconnecting = events(rohrpost, 'reconnecting');
    await scripted.connection();
    await eventually(() => rohrpost.state === 'open');
    const pending = rohrpost.call('never').catch((e: unknown) => e);
    rohrpost.close();
    expect(await pending).toBeInstanceOf(ConnectionClosedError);
    expect(await rohrpost.call('ping').catch((e: unknown) => e)).toBeInstanceOf(ConnectionClosedError);
    expect(rohrpost.state).toBe('closed');
    // A reconnect is always announced when it is scheduled: none was, so none can come.
    expect(reconnecting).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(scripted.connections).toHaveLength(1);
    expect(closes).toEqual([{ code: 1000, reason: 'client closed', willReconnect: false, opened: true }]);
  });

  test('an idle connection is pinged again and again while its pings are answered', async () => {
    const scripted = await server();
    // The answer to a ping cannot be late here, however busy the machine: only a hang would be.
    const rohrpost = client(scripted.url, { keepAlive: { intervalMs: 50, timeoutMs: WAIT_GUARD_MS } });
    const closes = events(rohrpost, 'close');
    const first = await scripted.connection(1);
    // The next ping waits for the last one's pong: three pings, two pongs the client took in.
    await eventually(() => first.received.filter((m) => m.type === 'ping').length >= 3);
    expect(first.received.every((m) => m.type === 'ping')).toBe(true);
    expect(closes).toEqual([]);
  });

  test('a connection whose ping goes unanswered is replaced', async () => {
    // A server that never answers: the ping's timeout is sure to run out first.
    const scripted = await server(() => undefined);
    const rohrpost = client(scripted.url, {
      keepAlive: { intervalMs: 50, timeoutMs: 50 },
      reconnect: { initialDelayMs: 10, maxDelayMs: 10 },
    });
    const closes = events(rohrpost, 'close');
    const first = await scripted.connection(1);
    await scripted.connection(2);
    expect(first.received.map((m) => m.type)).toEqual(['ping']);
    expect(closes[0]).toEqual({
      code: 4000,
      reason: 'keep-alive ping unanswered',
      willReconnect: true,
      opened: true,
    });
  });

  test('reconnects back off exponentially with full jitter, and a stable connection resets them', async () => {
    expect([0, 1, 2, 3, 10].map((attempt) => backoffDelay(attempt, {}, () => 0.999))).toEqual([
      499, 999, 1998, 3996, 29970,
    ]);
    expect(backoffDelay(5, {}, () => 0)).toBe(0);
    const scripted = await server();
    scripted.refuseNext = 4;
    const rohrpost = client(scripted.url, { reconnect: { initialDelayMs: 20, maxDelayMs: 40 } });
    const reconnecting = events(rohrpost, 'reconnecting');
    await eventually(() => rohrpost.state === 'open');
    expect(reconnecting.map((event) => event.attempt)).toEqual([1, 2, 3, 4]);
    for (const [i, { delayMs }] of reconnecting.entries()) {
      expect(delayMs).toBeGreaterThanOrEqual(0);
      expect(delayMs).toBeLessThan(Math.min(40, 20 * 2 ** i));
    }
  });

  test('a close says whether the connection ever opened: a refused handshake never did', async () => {
    const scripted = await server();
    scripted.refuseNext = 2;
    const rohrpost = client(scripted.url, { reconnect: { initialDelayMs: 10, maxDelayMs: 10 } });
    const closes = events(rohrpost, 'close');
    await eventually(() => rohrpost.state === 'open');
    (await scripted.connection(1)).socket.terminate();
    await eventually(() => closes.length === 3);
    expect(closes.map(({ code, opened }) => ({ code, opened }))).toEqual([
      { code: 1006, opened: false },
      { code: 1006, opened: false },
      { code: 1006, opened: true },
    ]);
  });

  test('a listener that throws does not stop the others, and is reported as an error', async () => {
    const scripted = await server();
    const rohrpost = client(scripted.url);
    const errors = events(rohrpost, 'error');
    const seen: unknown[] = [];
    rohrpost.on('message', () => {
      throw new Error('application bug');
    });
    rohrpost.on('message', (message) => seen.push(message.type));
    await rohrpost.call('echo');
    (await scripted.connection()).send({ id: 1, type: 'news' });
    await eventually(() => seen.length === 1);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.cause).toEqual(new Error('application bug'));
  });

  test('against a server without seq, updates come as they arrive, duplicates dropped by id', async () => {
    const scripted = await server((message) =>
      message.type === 'subscribe'
        ? { id: message.id, type: 'subscribe', data: { group: 'room' } }
        : undefined,
    );
    const rohrpost = client(scripted.url);
    const subscription = rohrpost.subscribe('room');
    const updates: Update[] = [];
    const refetches: unknown[] = [];
    subscription.on('update', (update) => updates.push(update));
    subscription.on('refetch', (event) => refetches.push(event));
    const connection = await scripted.connection();
    await eventually(() => subscription.name === 'room');
    const update = (id: number, name: string) => ({
      id,
      type: 'subscription-update',
      data: { group: 'room', type: 'update', object: { id: 'r', name, updated_fields: ['name'] } },
    });
    connection.send(update(1, 'a'));
    connection.send(update(1, 'a'));
    connection.send(update(2, 'b'));
    await eventually(() => updates.length === 2);
    expect(updates).toEqual([
      {
        group: 'room',
        type: 'update',
        object: { id: 'r', name: 'a', updated_fields: ['name'] },
        updatedFields: ['name'],
        id: 1,
      },
      {
        group: 'room',
        type: 'update',
        object: { id: 'r', name: 'b', updated_fields: ['name'] },
        updatedFields: ['name'],
        id: 2,
      },
    ]);
    connection.socket.terminate();
    const second = await scripted.connection(2);
    await eventually(() => second.received.some((message) => message.type === 'subscribe'));
    expect(second.received.find((message) => message.type === 'subscribe')).not.toHaveProperty('since');
    expect(refetches).toEqual([]);
  });

  test('without a WebSocket implementation, the error says what to pass', () => {
    const global = globalThis as { WebSocket?: unknown };
    const saved = global.WebSocket;
    delete global.WebSocket;
    try {
      expect(() => new RohrpostClient({ url: 'ws://127.0.0.1:1' })).toThrow(
        'No WebSocket implementation: pass one as the WebSocket option',
      );
    } finally {
      if (saved) global.WebSocket = saved;
    }
  });
});
