import { createAuthorizerMetrics } from '../../lambdas/rohrpost/metrics';
import type { WebSocketAuthorizerEvent } from '../../lambdas/rohrpost/runtime/authorizer';
import { CredentialsRefused } from '../../lambdas/rohrpost/runtime/authorizer';
import { metricLinesOf } from '../support/metric-lines';
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
  ])('%s is logged and denied, never allowed, and counted as a failure', async (_case, authorize) => {
    const logger = recordingLogger();
    const { metrics, counted } = recordingMetrics();
    const result = await createConnectAuthorizer(authorize, { logger, metrics })(event('x'));
    expect(result.policyDocument.Statement).toEqual([
      { Action: 'execute-api:Invoke', Effect: 'Deny', Resource: methodArn },
    ]);
    expect(logger.entries).toEqual([expect.objectContaining({ level: 'error' })]);
    expect(counted).toEqual(['failed']);
  });

  test('refusals are routine: logged at info level and counted by reason, not as failures', async () => {
    const logger = recordingLogger();
    const { metrics, counted } = recordingMetrics();
    const authorizer = createConnectAuthorizer(
      ({ query }) => {
        if (query.token === 'old') throw new CredentialsRefused('expired', 'the session ended yesterday');
        return query.token === 'ok' ? { principalId: 'u1' } : undefined;
      },
      { logger, metrics },
    );
    await expect(authorizer(event('old'))).rejects.toThrow(/^Unauthorized$/);
    await expect(authorizer(event('x'))).rejects.toThrow(/^Unauthorized$/);
    await authorizer(event('ok'));
    expect(counted).toEqual(['refused expired', 'refused refused', 'allowed']);
    expect(logger.entries.map((entry) => [entry.level, entry.message, entry.fields?.reason])).toEqual([
      ['info', 'Connection refused', 'expired'],
      ['info', 'Connection refused', 'refused'],
    ]);
  });

  test('each attempt is one embedded-metric-format line: refusals in total and by reason', async () => {
    const lines = await metricLinesOf(() => {
      const metrics = createAuthorizerMetrics('rohrpost-authorizer');
      metrics.refused('expired');
      metrics.failed();
    });
    expect(lines).toEqual([
      expect.objectContaining({
        _aws: expect.objectContaining({
          CloudWatchMetrics: [
            expect.objectContaining({
              Dimensions: [['service', 'reason'], ['service']],
              Metrics: [{ Name: 'ConnectionsRefused', Unit: 'Count' }],
            }),
          ],
        }),
        service: 'rohrpost-authorizer',
        reason: 'expired',
        ConnectionsRefused: 1,
      }),
      expect.objectContaining({
        _aws: expect.objectContaining({
          CloudWatchMetrics: [expect.objectContaining({ Dimensions: [['service']] })],
        }),
        AuthorizerFailures: 1,
      }),
    ]);
  });
});

/** An authorizer's counts, as words. */
function recordingMetrics() {
  const counted: string[] = [];
  return {
    counted,
    metrics: {
      allowed: () => void counted.push('allowed'),
      refused: (reason: string) => void counted.push(`refused ${reason}`),
      failed: () => void counted.push('failed'),
    },
  };
}
