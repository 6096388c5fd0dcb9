import {
  ApiGatewayManagementApiClient,
  GetConnectionCommand,
  LimitExceededException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { isThrottlingError } from '@smithy/core/retry';
import { ApiGatewayLimits } from '../../lambdas/rohrpost/deploy';
import { LOCAL_CREDENTIALS } from '../../sandbox/aws-local';
import type { GatewayReporter } from '../../sandbox/gateway';
import { Gateway } from '../../sandbox/gateway';
import { TestSocket } from '../support/socket';

/**
 * The account's request quota on the sandbox's management API: a bucket of 3 that all but never
 * refills, so the test does not race the clock. Every @connections request takes from it, and
 * beyond it the real SDK client gets API Gateway's 429, which its retry strategy treats as
 * throttling.
 */
describe("the management API under the account's request quota", () => {
  const connected: string[] = [];
  const silent: GatewayReporter = {
    connected: (connectionId) => void connected.push(connectionId),
    refused: () => undefined,
    disconnected: () => undefined,
    frame: () => undefined,
    invoked: () => undefined,
    failed: () => undefined,
  };
  const gateway = new Gateway({
    host: '127.0.0.1',
    port: 0,
    stage: 'local',
    apiId: 'quota-test',
    region: 'us-east-1',
    limits: ApiGatewayLimits,
    reporter: silent,
    postRate: { rate: 0.001, burst: 3 },
  });
  let socket: TestSocket;
  const client = (maxAttempts: number) =>
    new ApiGatewayManagementApiClient({
      endpoint: gateway.managementEndpoint,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
      maxAttempts,
    });

  beforeAll(async () => {
    await gateway.listen();
    gateway.attach({ websocket: { invoke: () => Promise.resolve({ statusCode: 200 }) } });
    socket = await TestSocket.open(`ws://127.0.0.1:${gateway.port}`);
  });
  afterAll(async () => {
    await socket?.close();
    await gateway.stop();
  });

  test('POST and GET take from the same bucket; beyond it the SDK raises a throttling error, retried as one', async () => {
    const once = client(1);
    const ConnectionId = connected[0]!;
    await once.send(new PostToConnectionCommand({ ConnectionId, Data: '{"n":1}' }));
    await once.send(new GetConnectionCommand({ ConnectionId }));
    await once.send(new PostToConnectionCommand({ ConnectionId, Data: '{"n":2}' }));
    expect(await socket.next()).toBe('{"n":1}');
    expect(await socket.next()).toBe('{"n":2}');

    const refused = await once.send(new PostToConnectionCommand({ ConnectionId, Data: '{"n":3}' })).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(LimitExceededException);
    expect((refused as LimitExceededException).$metadata.httpStatusCode).toBe(429);
    expect(isThrottlingError(refused as Parameters<typeof isThrottlingError>[0])).toBe(true);

    const twice = client(2);
    const retried = await twice.send(new GetConnectionCommand({ ConnectionId })).then(
      () => undefined,
      (error: unknown) => error as LimitExceededException,
    );
    expect(retried).toBeInstanceOf(LimitExceededException);
    expect(retried!.$metadata.attempts).toBe(2);
    once.destroy();
    twice.destroy();
  });

  test("the 429 is API Gateway's, whether the request is signed or not", async () => {
    const answer = await fetch(
      `${gateway.managementEndpoint}/@connections/${encodeURIComponent(connected[0]!)}`,
      {
        method: 'POST',
        body: 'x',
      },
    );
    expect(answer.status).toBe(429);
    expect(answer.headers.get('x-amzn-errortype')).toBe('LimitExceededException');
    expect(await answer.json()).toEqual({ message: 'Too Many Requests' });
  });
});
