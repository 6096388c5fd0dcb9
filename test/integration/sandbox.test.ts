import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { join } from 'node:path';
import type WebSocket from 'ws';
import { WebSocket as WebSocketClient } from 'ws';
import { defineConfig } from '../../lambdas/rohrpost/config';
import type { Sandbox } from '../../sandbox/sandbox';
import { startSandbox } from '../../sandbox/sandbox';
import { testDynamoDbEndpoint, uniquePrefix } from '../support/dynamodb';
import { eventually, recordingReporter } from '../support/recording-reporter';
import { HandshakeRefused, TestSocket } from '../support/socket';

const fixtures = join(__dirname, '../fixtures/app');

describe('the sandbox, end to end with real WebSocket clients', () => {
  let sandbox: Sandbox;
  const reporter = recordingReporter();
  let management: ApiGatewayManagementApiClient;
  const sockets: TestSocket[] = [];
  const open = async (query = '') => {
    const socket = await TestSocket.open(`${sandbox.websocketUrl}${query}`);
    sockets.push(socket);
    return socket;
  };
  /** The connection id of a socket, as its handlers see it. */
  const connectionIdOf = async (socket: TestSocket) =>
    (await socket.askJson<{ data: { connectionId: string } }>({ id: 'who', type: 'whoami' })).data
      .connectionId;

  beforeAll(async () => {
    sandbox = await startSandbox({
      config: defineConfig({ websocket: { entry: join(fixtures, 'websocket.ts') } }),
      port: 0,
      dynamodb: { endpoint: testDynamoDbEndpoint() },
      tablePrefix: uniquePrefix(),
      reporter,
    });
    management = new ApiGatewayManagementApiClient({ endpoint: sandbox.managementEndpoint });
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
  });
  afterAll(async () => {
    management.destroy();
    await sandbox.stop();
  });

  test('ping answers pong', async () => {
    const socket = await open();
    expect(await socket.ask({ id: 1, type: 'ping' })).toBe('{"id":1,"type":"pong"}');
    expect(await socket.ask({ id: 2, type: 'ping', data: { a: 1 } })).toBe(
      '{"id":2,"type":"pong","data":{"a":1}}',
    );
  });

  test("each message is counted by type in the sandbox's metrics, which keep the lines out of the log", async () => {
    const counted = (series: string) => sandbox.metrics.snapshot()[series]?.sum ?? 0;
    const [pings, unknown, all, errors] = [
      'MessagesHandled (type=ping)',
      'MessagesHandled (type=(unknown))',
      'MessagesHandled',
      'HandlerErrors',
    ].map(counted);
    const socket = await open();
    for (let id = 1; id <= 3; id++) await socket.ask({ id, type: 'ping' });
    await socket.ask({ id: 4, type: 'no-such-type' });
    await eventually(() => counted('MessagesHandled') >= all! + 4);
    expect(counted('MessagesHandled (type=ping)') - pings!).toBe(3);
    expect(counted('MessagesHandled (type=(unknown))') - unknown!).toBe(1);
    expect(counted('HandlerErrors')).toBe(errors);
    expect(reporter.lines.filter((line) => line.includes('"_aws"'))).toEqual([]);
  });

  test('the stage path is accepted like the root path', async () => {
    const socket = await TestSocket.open(`${sandbox.websocketUrl}/local`);
    sockets.push(socket);
    expect(await socket.ask({ id: 1, type: 'ping' })).toBe('{"id":1,"type":"pong"}');
  });

  test.each([
    ['', '{"error":"Received empty message."}'],
    [
      '{"id": 1',
      `{"error":${JSON.stringify(`Could not decode JSON message. Error: ${jsonError('{"id": 1')}`)}}`,
    ],
    ['[1, 2]', '{"error":"Expected a JSON object as message."}'],
    ['{"id": 1}', `{"error":"Missing required field 'type'."}`],
    ['{"type": "ping"}', `{"error":"Missing required field 'id'."}`],
    ['{"id": 3, "type": "nope"}', `{"id":3,"type":"nope","error":"Unknown message type 'nope'."}`],
    [
      '{"id": 4, "type": "constructor"}',
      `{"id":4,"type":"constructor","error":"Unknown message type 'constructor'."}`,
    ],
    ['{"id": 5, "type": 42}', `{"id":5,"type":42,"error":"Unknown message type '42'."}`],
    ['{"id": 6, "type": ""}', `{"id":6,"error":"Unknown message type ''."}`],
  ])('the protocol error for %j', async (frame, reply) => {
    const socket = await open();
    expect(await socket.ask(frame)).toBe(reply);
  });

  test('a handler that sends several messages delivers them in order, the reply last', async () => {
    const socket = await open();
    socket.send({ id: 'm', type: 'multi', data: { count: 6 } });
    const frames = [];
    for (let i = 0; i < 6; i++) frames.push(await socket.next());
    expect(frames).toEqual([
      ...[1, 2, 3, 4, 5].map((step) => `{"id":${step},"type":"step"}`),
      '{"id":"m","type":"multi","data":{"steps":6}}',
    ]);
  });

  test('frames sent the moment the socket opens are all answered', async () => {
    const socket = await TestSocket.open(sandbox.websocketUrl, {
      onOpen: (raw) => {
        for (let id = 0; id < 25; id++) raw.send(JSON.stringify({ id, type: 'ping' }));
      },
    });
    sockets.push(socket);
    const ids = [];
    for (let i = 0; i < 25; i++) ids.push((await socket.nextJson<{ id: number }>()).id);
    expect(ids.sort((a, b) => a - b)).toEqual([...Array(25).keys()]);
  });

  test('a binary frame closes the connection with 1003, as API Gateway does, and reaches no handler', async () => {
    const socket = await open();
    const connectionId = await connectionIdOf(socket);
    socket.socket.send(Buffer.from('{"id": 7, "type": "echo", "data": "binär"}'), { binary: true });
    expect(await socket.closed).toEqual({ code: 1003, reason: 'Binary frames are not supported' });
    await eventually(() => reporter.lines.includes(`invoked $disconnect ${connectionId} 200`));
    expect(reporter.lines.filter((line) => line.includes('"type": "echo"'))).toEqual([]);
  });

  test('a text frame that is not UTF-8 closes the connection with 1007', async () => {
    const socket = await open();
    socket.socket.send(Buffer.from([0x7b, 0xc0, 0xaf, 0x7d]), { binary: false });
    expect((await socket.closed).code).toBe(1007);
  });

  describe('the management API, through the real SDK client', () => {
    test('PostToConnection delivers a message to a live connection', async () => {
      const socket = await open();
      const connectionId = await connectionIdOf(socket);
      await management.send(
        new PostToConnectionCommand({ ConnectionId: connectionId, Data: '{"type":"news"}' }),
      );
      expect(await socket.next()).toBe('{"type":"news"}');
    });

    test('GetConnection describes it with dates', async () => {
      const socket = await open();
      const connectionId = await connectionIdOf(socket);
      const info = await management.send(new GetConnectionCommand({ ConnectionId: connectionId }));
      expect(info.ConnectedAt).toBeInstanceOf(Date);
      expect(info.LastActiveAt!.getTime()).toBeGreaterThanOrEqual(info.ConnectedAt!.getTime());
      expect(info.Identity).toEqual({ SourceIp: '127.0.0.1', UserAgent: undefined });
    });

    test('a post to a closed connection fails with GoneException', async () => {
      const socket = await open();
      const connectionId = await connectionIdOf(socket);
      await socket.close();
      const post = management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'late' }));
      await expect(post).rejects.toBeInstanceOf(GoneException);
      await expect(
        management.send(new GetConnectionCommand({ ConnectionId: connectionId })),
      ).rejects.toBeInstanceOf(GoneException);
    });

    test('DeleteConnection closes the socket, and $disconnect runs', async () => {
      const socket = await open();
      const connectionId = await connectionIdOf(socket);
      await management.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
      expect((await socket.closed).code).toBe(1000);
      await eventually(() =>
        reporter.lines.some((l) => l.startsWith(`invoked $disconnect ${connectionId} 200`)),
      );
      await expect(
        management.send(new DeleteConnectionCommand({ ConnectionId: connectionId })),
      ).rejects.toBeInstanceOf(GoneException);
    });

    test('a post over 128 KB fails with PayloadTooLargeException', async () => {
      const socket = await open();
      const connectionId = await connectionIdOf(socket);
      const post = management.send(
        new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'x'.repeat(128 * 1024 + 1) }),
      );
      await expect(post).rejects.toBeInstanceOf(PayloadTooLargeException);
    });
  });

  describe('limits', () => {
    test('a frame over 32 KB closes the connection with 1009, undelivered', async () => {
      const socket = await open();
      socket.send(JSON.stringify({ id: 1, type: 'echo', data: 'x'.repeat(33 * 1024) }));
      expect((await socket.closed).code).toBe(1009);
      expect(socket.received).toEqual([]);
    });

    test('a 100 KB message in 32 KB frames is accepted', async () => {
      const socket = await open();
      const text = JSON.stringify({ id: 1, type: 'ping', data: { text: 'y'.repeat(100 * 1024) } });
      sendFragmented(socket.socket, text, 30 * 1024);
      expect((await socket.nextJson<{ type: string }>()).type).toBe('pong');
    });

    test('a message over 128 KB closes the connection with 1009, even in small frames', async () => {
      const socket = await open();
      sendFragmented(socket.socket, 'z'.repeat(129 * 1024), 30 * 1024);
      expect((await socket.closed).code).toBe(1009);
    });

    test('a route response over 128 KB is not delivered and is reported', async () => {
      const socket = await open();
      socket.send('raw-huge-reply');
      await eventually(() => reporter.lines.some((l) => l.includes('route response of')));
      expect(await socket.ask({ id: 2, type: 'ping' })).toBe('{"id":2,"type":"pong"}');
    });

    test("rohrpost's handler never returns one: the client is told the reply was too large", async () => {
      const socket = await open();
      expect(await socket.askJson({ id: 1, type: 'huge-reply' })).toEqual({
        id: 1,
        type: 'huge-reply',
        error: 'Message too large: API Gateway delivers at most 131072 bytes.',
      });
    });
  });

  describe('failures, as API Gateway reports them', () => {
    test('a crashed instance: "Internal server error", and the next message gets a fresh one', async () => {
      const socket = await open();
      const reply = await socket.askJson({ id: 1, type: 'crash' });
      expect(reply).toMatchObject({ message: 'Internal server error', requestId: expect.any(String) });
      expect(await socket.ask({ id: 2, type: 'ping' })).toBe('{"id":2,"type":"pong"}');
    });
  });

  describe('$connect', () => {
    test.each([401, 403, 429])('refusing with %i refuses the handshake with that status', async (status) => {
      await expect(open(`?refuse=${status}`)).rejects.toEqual(new HandshakeRefused(status));
    });

    test('an unknown path is refused with 403, like API Gateway', async () => {
      await expect(TestSocket.open(`${sandbox.websocketUrl}/elsewhere`)).rejects.toEqual(
        new HandshakeRefused(403),
      );
    });
  });
});

describe('the sandbox with a short integration timeout', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({
      config: defineConfig({ websocket: { entry: join(fixtures, 'websocket.ts') } }),
      port: 0,
      dynamodb: { endpoint: testDynamoDbEndpoint() },
      tablePrefix: uniquePrefix(),
      // API Gateway's 29 s, shortened.
      limits: { integrationTimeoutMs: 1_500 },
    });
  });
  afterAll(() => sandbox.stop());

  test('a function that outlives the integration timeout: "Endpoint request timed out"', async () => {
    const socket = await TestSocket.open(sandbox.websocketUrl);
    // The handler answers 10 s after it started, the gateway gives up 1.5 s after it asked: the
    // reply cannot come first, however busy the machine.
    const reply = await socket.askJson({ id: 1, type: 'slow', data: { ms: 10_000 } });
    expect(reply).toMatchObject({
      message: 'Endpoint request timed out',
      connectionId: expect.any(String),
    });
    await socket.close();
  });
});

describe('the sandbox with a $connect authorizer', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({
      config: defineConfig({
        websocket: { entry: join(fixtures, 'websocket.ts') },
        authorizer: { entry: join(fixtures, 'authorizer.ts') },
      }),
      port: 0,
      dynamodb: { endpoint: testDynamoDbEndpoint() },
      tablePrefix: uniquePrefix(),
    });
  });
  afterAll(() => sandbox.stop());

  test('its identity reaches every message of the connection', async () => {
    const socket = await TestSocket.open(`${sandbox.websocketUrl}?token=good`);
    for (const id of [1, 2]) {
      const reply = await socket.askJson<{ data: { identity: object } }>({ id, type: 'whoami' });
      expect(reply.data.identity).toEqual({
        principalId: 'user-1',
        tenant: 'acme',
        admin: false,
        integrationLatency: expect.any(Number),
      });
    }
    await socket.close();
  });

  test.each([
    ['no token', '', 401],
    ['an empty token', '?token=', 401],
    ['an unknown token', '?token=bad', 401],
    ['a context API Gateway cannot pass on', '?token=broken', 403],
  ])('%s (%j) is refused with %i', async (_case, query, status) => {
    await expect(TestSocket.open(`${sandbox.websocketUrl}${query}`)).rejects.toEqual(
      new HandshakeRefused(status),
    );
  });
});

describe('the sandbox closes connections as API Gateway does', () => {
  // API Gateway's 10 minutes idle and 2 hours in all, shortened.
  const IDLE_MS = 1_500;
  const MAX_AGE_MS = 3_000;
  /** How often the second test sends: far more often than the idle timeout, even on a busy machine. */
  const PING_EVERY_MS = 100;
  let sandbox: Sandbox;
  const reporter = recordingReporter();
  beforeAll(async () => {
    sandbox = await startSandbox({
      config: defineConfig({ websocket: { entry: join(fixtures, 'websocket.ts') } }),
      port: 0,
      dynamodb: { endpoint: testDynamoDbEndpoint() },
      tablePrefix: uniquePrefix(),
      limits: { idleTimeoutMs: IDLE_MS, maxConnectionMs: MAX_AGE_MS },
      reporter,
    });
  });
  afterAll(() => sandbox.stop());

  // Timed from before the handshake: the gateway's timers start during it, never before.
  test('an idle connection is closed with 1001 and $disconnect runs', async () => {
    const started = Date.now();
    const socket = await TestSocket.open(sandbox.websocketUrl);
    const { code } = await socket.closed;
    expect(code).toBe(1001);
    expect(Date.now() - started).toBeGreaterThanOrEqual(IDLE_MS - 50);
    await eventually(() => reporter.lines.some((l) => l.startsWith('invoked $disconnect')));
  });

  test('messages keep a connection open, up to its maximum age', async () => {
    const started = Date.now();
    const socket = await TestSocket.open(sandbox.websocketUrl);
    let answered = 0;
    const keepAlive = setInterval(() => {
      socket.send({ id: answered, type: 'ping' });
    }, PING_EVERY_MS);
    socket.socket.on('message', () => answered++);
    const { code } = await socket.closed;
    clearInterval(keepAlive);
    expect(code).toBe(1001);
    expect(Date.now() - started).toBeGreaterThanOrEqual(MAX_AGE_MS - 100);
    expect(answered).toBeGreaterThan(5);
  });
});

describe('stopping the sandbox', () => {
  test('closes open connections with 1001, and their $disconnect still runs', async () => {
    const reporter = recordingReporter();
    const sandbox = await startSandbox({
      config: defineConfig({ websocket: { entry: join(fixtures, 'websocket.ts') } }),
      port: 0,
      dynamodb: { endpoint: testDynamoDbEndpoint() },
      tablePrefix: uniquePrefix(),
      reporter,
    });
    const socket = await TestSocket.open(sandbox.websocketUrl);
    const { data } = await socket.askJson<{ data: { connectionId: string } }>({ id: 1, type: 'whoami' });
    await sandbox.stop();
    expect((await socket.closed).code).toBe(1001);
    expect(reporter.lines).toContain(`invoked $disconnect ${data.connectionId} 200`);
    expect(reporter.lines.filter((line) => line.startsWith('failed'))).toEqual([]);
  });
  test('ends even while a client reconnects each time it is closed, and accepts none of its new connections', async () => {
    const sandbox = await startSandbox({
      config: defineConfig({ websocket: { entry: join(fixtures, 'websocket.ts') } }),
      port: 0,
      dynamodb: { endpoint: testDynamoDbEndpoint() },
      tablePrefix: uniquePrefix(),
      reporter: recordingReporter(),
    });
    // As a browser tab's client does: a new connection as soon as the last one closes.
    const opened: WebSocketClient[] = [];
    const attempts: Array<Promise<string>> = [];
    let stopped = false;
    const connect = () => {
      const socket = new WebSocketClient(sandbox.websocketUrl);
      attempts.push(
        new Promise((resolve) => {
          socket.once('open', () => (opened.push(socket), resolve('open')));
          socket.once('unexpected-response', (_request, response) =>
            resolve(`refused ${response.statusCode}`),
          );
          socket.once('error', (error) => resolve(`error ${(error as NodeJS.ErrnoException).code}`));
        }),
      );
      socket.once('close', () => void (!stopped && connect()));
    };
    connect();
    await eventually(() => opened.length === 1);
    await sandbox.stop();
    stopped = true;
    const outcomes = await Promise.all(attempts);
    expect(outcomes[0]).toBe('open');
    expect(outcomes.length).toBeGreaterThan(1);
    expect(outcomes.slice(1).filter((outcome) => outcome === 'open')).toEqual([]);
    for (const socket of opened) socket.terminate();
  });
});

function jsonError(text: string): string {
  try {
    JSON.parse(text);
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}

/** Sends `text` as one message split over frames of at most `frameBytes`. */
function sendFragmented(socket: WebSocket, text: string, frameBytes: number): void {
  const bytes = Buffer.from(text);
  for (let offset = 0; offset < bytes.length; offset += frameBytes) {
    const fin = offset + frameBytes >= bytes.length;
    socket.send(bytes.subarray(offset, offset + frameBytes), { fin, binary: false });
  }
}
