import type { Connections } from '../../lambdas/rohrpost/delivery/connections';
import { defineHandler, HandlerError } from '../../lambdas/rohrpost';
import type { HandleFunction } from '../../lambdas/rohrpost';
import { createWebSocketHandler } from '../../lambdas/rohrpost/runtime/websocket-handler';
import { connectEvent, disconnectEvent } from '../../sandbox/events';
import { frame, roundTrip, testConnection } from '../support/events';
import { createMessageMetrics } from '../../lambdas/rohrpost/metrics';
import { metricLinesOf } from '../support/metric-lines';
import { recordingLogger } from '../support/recording-logger';

/** Connections that count calls: a plain reply must make none. */
function countingConnections() {
  const calls: string[] = [];
  const connections: Connections = {
    post: (id) => (calls.push(`post ${id}`), Promise.resolve()),
    close: (id) => (calls.push(`close ${id}`), Promise.resolve()),
  };
  return { calls, connections };
}

function setUp(type: string, handle: HandleFunction) {
  const logger = recordingLogger();
  const { calls, connections } = countingConnections();
  const handler = createWebSocketHandler({
    handlers: [defineHandler(type, handle)],
    connections: () => connections,
    logger,
  });
  return { handler, logger, calls, send: (body: string) => roundTrip(handler, body) };
}

describe('replies', () => {
  test('a reply travels as the route response and costs no management-API call', async () => {
    const { send, calls } = setUp('echo', (request, context) => context.reply(request.data));
    expect(await send('{"id": 1, "type": "echo", "data": {"x": [1, 2]}}')).toBe(
      '{"id":1,"type":"echo","data":{"x":[1,2]}}',
    );
    expect(calls).toEqual([]);
  });

  test('keys are in protocol order and empty data is left out', async () => {
    const { send } = setUp('ordered', (_request, context) =>
      context.send({ data: { a: 1 }, error: 'no', type: 't', id: 3 }),
    );
    expect(await send('{"id": 1, "type": "ordered"}')).toBe(
      '{"id":3,"type":"t","error":"no","data":{"a":1}}',
    );
  });

  test.each([[undefined], [null], [{}]])('data %j is left out', async (data) => {
    const { send } = setUp('empty', (_request, context) => context.reply(data));
    expect(await send('{"id": 1, "type": "empty"}')).toBe('{"id":1,"type":"empty"}');
  });

  test('a message without id is server-initiated and gets a random positive integer id', async () => {
    const { handler } = setUp('push', (_request, context) => context.send({ type: 'news' }));
    const ids = new Set<unknown>();
    for (let i = 0; i < 20; i++) {
      const reply = JSON.parse((await roundTrip(handler, '{"id": 1, "type": "push"}'))!) as { id: unknown };
      expect(Number.isSafeInteger(reply.id) && (reply.id as number) > 0).toBe(true);
      ids.add(reply.id);
    }
    expect(ids.size).toBeGreaterThan(1);
  });

  test('a handler that sends nothing returns no body', async () => {
    const { handler } = setUp('silent', () => undefined);
    expect(await handler(frame('{"id": 1, "type": "silent"}'))).toEqual({ statusCode: 200 });
  });

  test('replyError answers with the request id and type, error and data', async () => {
    const { send } = setUp('check', (_request, context) =>
      context.replyError('Not yet.', { data: { retry: 5 } }),
    );
    expect(await send('{"id": "x", "type": "check"}')).toBe(
      '{"id":"x","type":"check","error":"Not yet.","data":{"retry":5}}',
    );
  });

  test('the handler sees the whole request, extra fields included, and its connection', async () => {
    const seen: unknown[] = [];
    const { handler } = setUp('look', (request, context) => {
      seen.push(request, context.connectionId, context.identity, context.requestContext.routeKey);
    });
    const connection = testConnection({ authorizer: { principalId: 'user-1', tenant: 't1' } });
    await handler(frame('{"id": 1, "type": "look", "auth_jwt": "token"}', connection));
    expect(seen).toEqual([
      { id: 1, type: 'look', auth_jwt: 'token' },
      connection.connectionId,
      { principalId: 'user-1', tenant: 't1' },
      '$default',
    ]);
  });

  test('a base64-encoded (binary) frame is decoded as UTF-8 text', async () => {
    const { handler } = setUp('echo', (request, context) => context.reply(request.data));
    const event = frame(Buffer.from('{"id": 2, "type": "echo", "data": "grüße"}').toString('base64'));
    event.isBase64Encoded = true;
    expect((await handler(event)).body).toBe('{"id":2,"type":"echo","data":"grüße"}');
  });
});

describe('failures never escape', () => {
  test('a HandlerError becomes an error reply with its message', async () => {
    const { send, logger } = setUp('secret', () => {
      throw new HandlerError('Access denied.');
    });
    expect(await send('{"id": 4, "type": "secret"}')).toBe(
      '{"id":4,"type":"secret","error":"Access denied."}',
    );
    expect(logger.entries).toEqual([]);
  });

  test('a HandlerError may carry a structured error and data', async () => {
    const { send } = setUp('secret', () => {
      throw new HandlerError({ code: 403, reason: 'group' }, { data: { group: 'note-1' } });
    });
    expect(await send('{"id": 4, "type": "secret"}')).toBe(
      '{"id":4,"type":"secret","error":{"code":403,"reason":"group"},"data":{"group":"note-1"}}',
    );
  });

  test.each([
    [
      'a thrown error',
      () => {
        throw new Error('database password is hunter2');
      },
    ],
    ['a rejected promise', () => Promise.reject(new TypeError('cannot read x of undefined'))],
    [
      'a thrown non-error',
      () => {
        throw 'just a string'; // eslint-disable-line @typescript-eslint/only-throw-error
      },
    ],
  ])('%s is logged with its stack and answered without internals', async (_case, handle) => {
    const { send, logger } = setUp('boom', handle);
    const reply = await send('{"id": 5, "type": "boom"}');
    expect(reply).toBe('{"id":5,"type":"boom","error":"Internal server error."}');
    expect(logger.entries).toHaveLength(1);
    expect(logger.entries[0]).toMatchObject({
      level: 'error',
      message: 'Handler failed',
      fields: { type: 'boom' },
    });
  });

  test('the stack of an unexpected error reaches the log', async () => {
    const { send, logger } = setUp('boom', () => {
      throw new Error('kaput');
    });
    await send('{"id": 5, "type": "boom"}');
    expect((logger.entries[0]?.fields?.error as Error).stack).toContain('kaput');
  });

  test('data that cannot be serialised is an internal error, not a crash', async () => {
    const { send, logger } = setUp('big', (_request, context) => context.reply({ n: 10n }));
    expect(await send('{"id": 6, "type": "big"}')).toBe(
      '{"id":6,"type":"big","error":"Internal server error."}',
    );
    expect(logger.entries).toHaveLength(1);
  });

  test('a HandlerError whose data cannot be serialised is an internal error', async () => {
    const { send } = setUp('big', () => {
      throw new HandlerError('no', { data: { n: 10n } });
    });
    expect(await send('{"id": 6, "type": "big"}')).toBe(
      '{"id":6,"type":"big","error":"Internal server error."}',
    );
  });

  test('a malformed event is answered with 500, not an exception', async () => {
    const { handler, logger } = setUp('x', () => undefined);
    const result = await handler({} as never);
    expect(result).toEqual({ statusCode: 500, body: '{"error":"Internal server error."}' });
    expect(logger.entries[0]?.level).toBe('error');
  });
});

describe('messages sent after the handler finished', () => {
  test('are posted, not kept in silence, and logged as the bug they are', async () => {
    let later: (() => void) | undefined;
    const { send, calls, logger } = setUp('late', (_request, context) => {
      later = () => context.send({ type: 'late' });
      context.reply();
    });
    expect(await send('{"id": 1, "type": "late"}')).toBe('{"id":1,"type":"late"}');
    later!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual([expect.stringMatching(/^post /)]);
    expect(logger.entries.map((entry) => `${entry.level} ${entry.message}`)).toEqual([
      expect.stringMatching(/^error A message was sent after its handler had finished/),
    ]);
  });

  test('one sent while the earlier posts are still under way is awaited by the invocation', async () => {
    const logger = recordingLogger();
    const posted: string[] = [];
    let sendLate: (() => void) | undefined;
    const handler = createWebSocketHandler({
      handlers: [
        defineHandler('two', (_request, context) => {
          context.send({ type: 'first' });
          sendLate = () => context.send({ type: 'third' });
          context.reply();
        }),
      ],
      connections: () => ({
        post: async (_id, payload) => {
          // While the first post is under way, the handler's stray work sends once more.
          sendLate?.();
          sendLate = undefined;
          await new Promise((resolve) => setTimeout(resolve, 5));
          posted.push((JSON.parse(payload) as { type: string }).type);
        },
        close: () => Promise.resolve(),
      }),
      logger,
    });
    expect(await roundTrip(handler, '{"id": 1, "type": "two"}')).toBe('{"id":1,"type":"two"}');
    expect(posted).toEqual(['first', 'third']);
  });
});

describe('connection lifecycle routes', () => {
  const handshake = { headers: {}, query: {} };

  test('$connect answers 200 without a body or any AWS call', async () => {
    const { handler, calls } = setUp('x', () => undefined);
    expect(await handler(connectEvent(testConnection(), handshake))).toEqual({ statusCode: 200 });
    expect(calls).toEqual([]);
  });

  test('$disconnect removes the connection from all its groups', async () => {
    const left: string[] = [];
    const membership = { leaveAll: (connectionId: string) => (left.push(connectionId), Promise.resolve([])) };
    const handler = createWebSocketHandler({ handlers: [], membership: () => membership as never });
    const connection = testConnection();
    const closed = disconnectEvent(connection, handshake, { code: 1001, reason: 'Going away' });
    expect(await handler(closed)).toEqual({ statusCode: 200 });
    expect(left).toEqual([connection.connectionId]);
  });

  test('$disconnect logs a failed cleanup and still answers 200 (the TTL removes the rest)', async () => {
    const logger = recordingLogger();
    const membership = { leaveAll: () => Promise.reject(new Error('throttled')) };
    const handler = createWebSocketHandler({ handlers: [], logger, membership: () => membership as never });
    const closed = disconnectEvent(testConnection(), handshake, { code: 1000, reason: '' });
    expect(await handler(closed)).toEqual({ statusCode: 200 });
    expect(logger.entries[0]).toMatchObject({
      level: 'error',
      message: 'Could not remove a closed connection from its groups',
    });
  });
});

describe('metrics', () => {
  test('each message is counted by its type and over all types, with its handler errors, in one line', async () => {
    const lines = await metricLinesOf(async () => {
      const metrics = createMessageMetrics('rohrpost-websocket');
      const handler = createWebSocketHandler({
        handlers: [
          defineHandler('echo', (request, context) => context.reply(request.data)),
          defineHandler('refuse', () => {
            throw new HandlerError('not allowed');
          }),
          defineHandler('crash', () => {
            throw new Error('a bug');
          }),
        ],
        connections: () => countingConnections().connections,
        logger: recordingLogger(),
        metrics,
      });
      for (const body of [
        '{"id": 1, "type": "echo"}',
        '{"id": 2, "type": "refuse"}',
        '{"id": 3, "type": "crash"}',
        '{"id": 4, "type": "made-up-by-a-client"}',
        'not json',
      ]) {
        await roundTrip(handler, body);
      }
      // Connects and disconnects are API Gateway's to count: no line.
      await handler(connectEvent(testConnection(), { headers: {}, query: {} }));
    });
    expect(lines.map((line) => [line.type, line.MessagesHandled, line.HandlerErrors])).toEqual([
      ['echo', 1, 0],
      ['refuse', 1, 0],
      ['crash', 1, 1],
      ['(unknown)', 1, 0],
      ['(invalid)', 1, 0],
    ]);
    for (const line of lines) {
      expect(line).toMatchObject({
        service: 'rohrpost-websocket',
        _aws: {
          CloudWatchMetrics: [
            {
              Namespace: 'rohrpost',
              Dimensions: [['service', 'type'], ['service']],
              Metrics: [
                { Name: 'MessagesHandled', Unit: 'Count' },
                { Name: 'HandlerErrors', Unit: 'Count' },
              ],
            },
          ],
        },
      });
    }
  });

  test('a reply that cannot be sent counts as a handler error', async () => {
    const lines = await metricLinesOf(async () => {
      const metrics = createMessageMetrics('rohrpost-websocket');
      const handler = createWebSocketHandler({
        handlers: [
          defineHandler('two', (request, context) => {
            context.send({ type: 'extra' });
            context.reply(request.data);
          }),
        ],
        connections: () => ({
          post: () => Promise.reject(new Error('the management API is down')),
          close: () => Promise.resolve(),
        }),
        logger: recordingLogger(),
        metrics,
      });
      expect(await roundTrip(handler, '{"id": 1, "type": "two"}')).toContain(
        '"error":"Internal server error."',
      );
    });
    expect(lines).toEqual([expect.objectContaining({ type: 'two', MessagesHandled: 1, HandlerErrors: 1 })]);
  });
});
