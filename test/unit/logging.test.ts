import type { Context } from 'aws-lambda';
import { defineHandler } from '../../lambdas/rohrpost';
import { createWebSocketHandler } from '../../lambdas/rohrpost/runtime/websocket-handler';
import { disconnectEvent } from '../../sandbox/events';
import { frame, testConnection } from '../support/events';

/** What the functions log, through Powertools' Logger, from a real handler invocation. */
describe('log lines', () => {
  const lambdaContext = (awsRequestId: string) =>
    ({
      awsRequestId,
      functionName: 'rohrpost-websocket',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:eu-central-1:123456789012:function:rohrpost-websocket',
      memoryLimitInMB: '256',
    }) as Context;
  const saved = process.env.AWS_LAMBDA_INITIALIZATION_TYPE;
  let written: string[];
  beforeEach(() => {
    process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
    written = [];
    for (const stream of [process.stdout, process.stderr]) {
      jest.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        written.push(String(chunk));
        return true;
      });
    }
  });
  afterEach(() => {
    jest.restoreAllMocks();
    process.env.AWS_LAMBDA_INITIALIZATION_TYPE = saved;
  });

  test('carry the request id, function, cold start, connection id and message type', async () => {
    const handler = createWebSocketHandler({
      handlers: [
        defineHandler('explode', () => {
          throw new Error('boom');
        }),
      ],
    });
    const connection = testConnection();
    await handler(frame('{"id": 1, "type": "explode"}', connection), lambdaContext('req-1'));
    await handler(frame('{"id": 2, "type": "explode"}', connection), lambdaContext('req-2'));
    const lines = written.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 'ERROR',
      message: 'Handler failed',
      service: 'rohrpost-websocket',
      function_request_id: 'req-1',
      function_name: 'rohrpost-websocket',
      cold_start: true,
      connectionId: connection.connectionId,
      messageType: 'explode',
      error: { name: 'Error', message: 'boom' },
    });
    expect(lines[1]).toMatchObject({
      function_request_id: 'req-2',
      cold_start: false,
      messageType: 'explode',
    });
  });

  test("one invocation's keys do not leak into the next", async () => {
    const fail = () => {
      throw new Error('boom');
    };
    const handler = createWebSocketHandler({
      handlers: [defineHandler('explode', fail), defineHandler('burst', fail)],
    });
    const [first, second] = [testConnection(), testConnection()];
    await handler(frame('{"id": 1, "type": "explode"}', first), lambdaContext('req-1'));
    await handler(frame('{"id": 2, "type": "burst"}', second), lambdaContext('req-2'));
    const lines = written.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines[1]).toMatchObject({
      function_request_id: 'req-2',
      connectionId: second.connectionId,
      messageType: 'burst',
    });
  });

  test('a line carries the invocation it was written in, whichever invocations before it wrote none', async () => {
    const fail = () => {
      throw new Error('boom');
    };
    const handler = createWebSocketHandler({
      handlers: [
        defineHandler('quiet', (_request, context) => context.reply()),
        defineHandler('explode', fail),
        defineHandler('burst', fail),
      ],
      membership: () => ({ leaveAll: () => Promise.reject(new Error('throttled')) }) as never,
    });
    const connections = Array.from({ length: 6 }, () => testConnection());
    const invocations: Array<[string, string | undefined]> = [
      ['quiet', undefined], // the cold start writes no line
      ['explode', 'Handler failed'],
      ['quiet', undefined],
      ['quiet', undefined],
      ['burst', 'Handler failed'],
    ];
    for (const [index, [type]] of invocations.entries()) {
      const body = `{"id": ${index}, "type": "${type}"}`;
      await handler(frame(body, connections[index]), lambdaContext(`req-${index}`));
    }
    const handshake = { headers: {}, query: {} };
    await handler(
      disconnectEvent(connections[5]!, handshake, { code: 1001, reason: 'gone' }),
      lambdaContext('req-5'),
    );

    const lines = written.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => [line.message, line.function_request_id])).toEqual([
      ['Handler failed', 'req-1'],
      ['Handler failed', 'req-4'],
      ['Could not remove a closed connection from its groups', 'req-5'],
    ]);
    expect(lines[0]).toMatchObject({
      cold_start: false,
      connectionId: connections[1]!.connectionId,
      messageType: 'explode',
    });
    expect(lines[1]).toMatchObject({
      cold_start: false,
      connectionId: connections[4]!.connectionId,
      messageType: 'burst',
    });
    expect(lines[2]).toMatchObject({ cold_start: false, connectionId: connections[5]!.connectionId });
    expect(lines[2]).not.toHaveProperty('messageType');
  });
});
