import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defineHandler } from '../../lambdas/rohrpost';
import type { HandleFunction } from '../../lambdas/rohrpost';
import { createWebSocketHandler } from '../../lambdas/rohrpost/runtime/websocket-handler';
import { localSignatureVerifier } from '../../sandbox/aws-local';
import type { ManagedConnections } from '../../sandbox/management-api';
import { serveManagementApi } from '../../sandbox/management-api';
import { frame, testConnection } from '../support/events';
import { recordingLogger } from '../support/recording-logger';

/**
 * Messages beyond the reply go through the real @aws-sdk/client-apigatewaymanagementapi client
 * to the sandbox's management API over loopback; the gateway side records what reaches the socket.
 */
describe('a handler that sends several messages', () => {
  const live = new Set<string>();
  const delivered: string[] = [];
  let failNextPosts = 0;
  const gateway: ManagedConnections = {
    send: (connectionId, message) => {
      if (!live.has(connectionId)) return false;
      delivered.push(`${connectionId} ${message}`);
      return true;
    },
    close: (connectionId) => {
      delivered.push(`${connectionId} <closed>`);
      return live.delete(connectionId);
    },
    info: () => undefined,
  };
  const signatures = localSignatureVerifier('execute-api');
  const server = createServer((request, response) => {
    if (failNextPosts > 0 && request.method === 'POST') {
      failNextPosts--;
      return void response.writeHead(500, { 'x-amzn-ErrorType': 'InternalServerErrorException' }).end('{}');
    }
    if (!serveManagementApi(request, response, gateway, signatures)) response.writeHead(404).end();
  });
  const previousEndpoint = process.env.ROHRPOST_MANAGEMENT_ENDPOINT;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    process.env.ROHRPOST_MANAGEMENT_ENDPOINT = `http://127.0.0.1:${port}/test`;
  });
  afterAll(async () => {
    process.env.ROHRPOST_MANAGEMENT_ENDPOINT = previousEndpoint;
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    delivered.length = 0;
    failNextPosts = 0;
  });

  function setUp(handle: HandleFunction) {
    const logger = recordingLogger();
    const handler = createWebSocketHandler({ handlers: [defineHandler('multi', handle)], logger });
    const connection = testConnection();
    live.add(connection.connectionId);
    return {
      logger,
      connectionId: connection.connectionId,
      invoke: () => handler(frame('{"id": 1, "type": "multi"}', connection)),
    };
  }

  test('all but the last go out through PostToConnection, in order; the last is the route response', async () => {
    const { invoke, connectionId } = setUp((_request, context) => {
      for (let step = 1; step <= 5; step++) context.send({ id: step, type: 'progress' });
      context.reply({ done: true });
    });
    const result = await invoke();
    expect(delivered).toEqual(
      [1, 2, 3, 4, 5].map((step) => `${connectionId} {"id":${step},"type":"progress"}`),
    );
    expect(result).toEqual({ statusCode: 200, body: '{"id":1,"type":"multi","data":{"done":true}}' });
  });

  test('messages sent from an async handler between awaits keep their order', async () => {
    const { invoke, connectionId } = setUp(async (_request, context) => {
      context.send({ id: 'a', type: 'step' });
      await new Promise((resolve) => setTimeout(resolve, 5));
      context.send({ id: 'b', type: 'step' });
      await Promise.resolve();
      context.reply();
    });
    const result = await invoke();
    expect(delivered).toEqual([
      `${connectionId} {"id":"a","type":"step"}`,
      `${connectionId} {"id":"b","type":"step"}`,
    ]);
    expect(result.body).toBe('{"id":1,"type":"multi"}');
  });

  test('close after the last message posts it, then closes the connection, and returns no body', async () => {
    const { invoke, connectionId } = setUp((_request, context) => {
      context.send({ id: 1, type: 'first' });
      context.reply('bye', { close: true });
    });
    const result = await invoke();
    expect(result).toEqual({ statusCode: 200 });
    expect(delivered).toEqual([
      `${connectionId} {"id":1,"type":"first"}`,
      `${connectionId} {"id":1,"type":"multi","data":"bye"}`,
      `${connectionId} <closed>`,
    ]);
  });

  test('a message after the one that closed is logged and not sent', async () => {
    const { invoke, connectionId, logger } = setUp((_request, context) => {
      context.reply('bye', { close: true });
      context.send({ type: 'late' });
    });
    await invoke();
    expect(delivered).toEqual([
      `${connectionId} {"id":1,"type":"multi","data":"bye"}`,
      `${connectionId} <closed>`,
    ]);
    expect(logger.entries.map((entry) => entry.level)).toEqual(['warn']);
  });

  test('when the connection is gone, the rest is dropped quietly: there is nobody to tell', async () => {
    const { invoke, connectionId, logger } = setUp((_request, context) => {
      context.send({ type: 'first' });
      context.reply();
    });
    live.delete(connectionId);
    expect(await invoke()).toEqual({ statusCode: 200 });
    expect(logger.entries).toEqual([]);
  });

  test('a post that keeps failing stops the sequence and the client gets an internal error', async () => {
    const { invoke, connectionId, logger } = setUp((_request, context) => {
      context.send({ id: 1, type: 'first' });
      context.send({ id: 2, type: 'second' });
      context.reply();
    });
    failNextPosts = 3; // the SDK tries 3 times
    const result = await invoke();
    expect(delivered).toEqual([]);
    expect(result.body).toBe('{"id":1,"type":"multi","error":"Internal server error."}');
    expect(logger.entries[0]).toMatchObject({ level: 'error', fields: { connectionId } });
  });
});
