import type { WebSocketAuthorizerEvent } from '../../lambdas/rohrpost/runtime/authorizer';
import {
  ConnectionRefusedError,
  createConnectAuthorizer,
  createWebSocketHandler,
} from '../../lambdas/rohrpost';
import { authorizerEvent, connectEvent } from '../../sandbox/events';
import { testConnection } from '../support/events';
import { recordingLogger } from '../support/recording-logger';

const handshake = { headers: { Host: ['example.com'] }, query: { token: ['abc'] } };

describe('$connect in the websocket handler', () => {
  test('onConnect sees the connection, its headers and query', async () => {
    const seen: unknown[] = [];
    const handler = createWebSocketHandler({
      handlers: [],
      onConnect: (request) => void seen.push(request.connectionId, request.headers.Host, request.query.token),
    });
    const connection = testConnection();
    expect(await handler(connectEvent(connection, handshake))).toEqual({ statusCode: 200 });
    expect(seen).toEqual([connection.connectionId, 'example.com', 'abc']);
  });

  test('a ConnectionRefusedError refuses with its status', async () => {
    const handler = createWebSocketHandler({
      handlers: [],
      onConnect: () => {
        throw new ConnectionRefusedError(401, 'token expired');
      },
    });
    expect(await handler(connectEvent(testConnection(), handshake))).toEqual({ statusCode: 401 });
  });

  test('an unexpected failure refuses with 500 and is logged', async () => {
    const logger = recordingLogger();
    const handler = createWebSocketHandler({
      handlers: [],
      logger,
      onConnect: () => Promise.reject(new Error('database down')),
    });
    expect(await handler(connectEvent(testConnection(), handshake))).toEqual({ statusCode: 500 });
    expect(logger.entries[0]).toMatchObject({ level: 'error' });
  });
});

describe('createConnectAuthorizer', () => {
  const methodArn = 'arn:aws:execute-api:us-east-1:123:api/prod/$connect';
  const event = (token?: string): WebSocketAuthorizerEvent =>
    authorizerEvent(
      testConnection(),
      { headers: {}, query: token === undefined ? {} : { token: [token] } },
      methodArn,
    );

  test('an identity allows the connection and becomes the context', async () => {
    const authorizer = createConnectAuthorizer(({ query }) =>
      query.token === 'ok' ? { principalId: 'u1', context: { role: 'editor', level: 3 } } : undefined,
    );
    expect(await authorizer(event('ok'))).toEqual({
      principalId: 'u1',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: methodArn }],
      },
      context: { role: 'editor', level: 3 },
    });
  });

  test("no identity throws API Gateway's 'Unauthorized', which answers 401", async () => {
    const authorizer = createConnectAuthorizer(() => undefined);
    await expect(authorizer(event('x'))).rejects.toThrow(/^Unauthorized$/);
  });

  test.each([
    ['a failing check', () => Promise.reject(new Error('key server down'))],
    [
      'a context value API Gateway cannot pass on',
      () => ({ principalId: 'u', context: { list: [1] as never } }),
    ],
    ['an empty principal', () => ({ principalId: '' })],
  ])('%s is logged and denied, never allowed', async (_case, authorize) => {
    const logger = recordingLogger();
    const result = await createConnectAuthorizer(authorize, { logger })(event('x'));
    expect(result.policyDocument.Statement).toEqual([
      { Action: 'execute-api:Invoke', Effect: 'Deny', Resource: methodArn },
    ]);
    expect(logger.entries).toHaveLength(1);
  });
});
