import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { SignatureV4 } from '@smithy/signature-v4';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConnectionGoneError } from '../../lambdas/rohrpost/delivery/connections';
import { ManagementApiError, SignedConnections } from '../../lambdas/rohrpost/delivery/signed-connections';

/** The fan-out's management API client against a real HTTP server that checks what arrives. */
describe('SignedConnections', () => {
  const received: Array<{ method: string; path: string; headers: IncomingMessage['headers']; body: string }> =
    [];
  let answer: (request: IncomingMessage, response: ServerResponse) => void = (_request, response) =>
    response.end();
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push({ method: request.method!, path: request.url!, headers: request.headers, body });
      answer(request, response);
    });
  });
  let endpoint: string;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));
  beforeEach(() => {
    received.length = 0;
    answer = (_request, response) => response.end();
  });

  const fail = (status: number, errorType: string) => (_request: IncomingMessage, response: ServerResponse) =>
    response.writeHead(status, { 'x-amzn-ErrorType': errorType }).end(`{"message":"${errorType}"}`);

  /** The signature API Gateway would compute from what arrived, over the headers it says it signed. */
  async function expectedAuthorization(request: (typeof received)[number]): Promise<string | undefined> {
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(request.headers.authorization!)![1]!.split(';');
    const { config } = new ApiGatewayManagementApiClient({ endpoint });
    const verifier = new SignatureV4({
      service: 'execute-api',
      region: await config.region(),
      credentials: await config.credentials(),
      sha256: config.sha256,
      applyChecksum: false,
    });
    const headers = Object.fromEntries(signedHeaders.map((name) => [name, String(request.headers[name])]));
    const date = request.headers['x-amz-date'] as string;
    const signingDate = new Date(
      `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
    );
    const expected = await verifier.sign(
      {
        method: request.method,
        protocol: 'http:',
        hostname: '127.0.0.1',
        path: request.path,
        headers,
        body: request.body,
      },
      { signingDate },
    );
    return expected.headers.authorization;
  }

  test('the request on the wire carries a signature that verifies, as API Gateway checks it', async () => {
    await new SignedConnections(endpoint).post('L0SM9c+F/HcCIhw=', '{"type":"news"}');
    const [request] = received;
    expect(request).toMatchObject({
      method: 'POST',
      path: '/prod/@connections/L0SM9c%2BF%2FHcCIhw%3D',
      body: '{"type":"news"}',
    });
    expect(request!.headers.authorization).toBe(await expectedAuthorization(request!));
  });

  test('each payload goes with its own length, an empty one first included', async () => {
    const connections = new SignedConnections(endpoint);
    for (const payload of ['', 'ünïcode', 'ünïcode', '{}']) await connections.post('c', payload);
    for (const request of received) {
      expect(request.headers.authorization).toMatch(
        /SignedHeaders=content-length;content-type;host;x-amz-date,/,
      );
      expect(request.headers.authorization).toBe(await expectedAuthorization(request));
    }
    expect(received.map((r) => [r.body, r.headers['content-length'], r.headers.host])).toEqual([
      ['', '0', endpoint.slice('http://'.length, -'/prod'.length)],
      ['ünïcode', '9', expect.any(String)],
      ['ünïcode', '9', expect.any(String)],
      ['{}', '2', expect.any(String)],
    ]);
  });

  test('410 Gone is a ConnectionGoneError; DELETE of a gone connection counts as closed', async () => {
    answer = fail(410, 'GoneException');
    await expect(new SignedConnections(endpoint).post('gone=', 'x')).rejects.toEqual(
      new ConnectionGoneError('gone='),
    );
    await expect(new SignedConnections(endpoint).close('gone=')).resolves.toBeUndefined();
    expect(received.map((r) => r.method)).toEqual(['POST', 'DELETE']);
  });

  test('a client error is not retried and says what the API answered', async () => {
    answer = fail(403, 'ForbiddenException');
    const post = new SignedConnections(endpoint).post('c', 'x');
    await expect(post).rejects.toBeInstanceOf(ManagementApiError);
    await expect(post).rejects.toThrow(
      'The management API answered 403 ForbiddenException: {"message":"ForbiddenException"}',
    );
    expect(received).toHaveLength(1);
  });

  test.each([
    [429, 'LimitExceededException'],
    [500, 'InternalServerErrorException'],
    [503, 'ServiceUnavailable'],
  ])('%i is retried with backoff until it succeeds', async (status, errorType) => {
    let failures = 2;
    answer = (request, response) =>
      failures-- > 0 ? fail(status, errorType)(request, response) : response.end();
    await new SignedConnections(endpoint).post('c', 'x');
    expect(received).toHaveLength(3);
  });

  test('after maxAttempts the last failure is the error', async () => {
    answer = fail(429, 'LimitExceededException');
    const post = new SignedConnections(endpoint, { maxAttempts: 3 }).post('c', 'x');
    await expect(post).rejects.toMatchObject({ status: 429, errorType: 'LimitExceededException' });
    expect(received).toHaveLength(3);
  });

  test('credentials about to expire are resolved again before a request; lasting ones once', async () => {
    let resolved = 0;
    const provider = (lifetimeMs: number) => () => {
      resolved++;
      return Promise.resolve({
        accessKeyId: 'AKID',
        secretAccessKey: 'secret',
        sessionToken: `token-${resolved}`,
        expiration: new Date(Date.now() + lifetimeMs),
      });
    };
    const tokens = async (connections: SignedConnections) => {
      received.length = 0;
      for (const id of ['a', 'b', 'c']) await connections.post(id, 'x');
      return received.map((r) => r.headers['x-amz-security-token']);
    };

    const expiring = await tokens(new SignedConnections(endpoint, { credentials: provider(60_000) }));
    expect(new Set(expiring).size).toBe(3);
    resolved = 0;
    const lasting = await tokens(new SignedConnections(endpoint, { credentials: provider(60 * 60_000) }));
    expect(lasting).toEqual(['token-1', 'token-1', 'token-1']);
    expect(resolved).toBe(1);
  });

  test('an endpoint that does not answer is abandoned after the timeout and tried again', async () => {
    let calls = 0;
    answer = (_request, response) => {
      if (calls++ === 0) return; // never answers the first time
      response.end();
    };
    // The second request is answered at once; the timeout is long enough that only a process
    // stopped for 2 s could miss that answer, and short enough to wait out for the first.
    await new SignedConnections(endpoint, { timeoutMs: 2_000 }).post('c', 'x');
    expect(received).toHaveLength(2);
  });

  test("a skewed clock costs one refused request: the API's Date header corrects it, as the SDK does", async () => {
    // As API Gateway: a signature more than 5 minutes away from the server's time is refused.
    answer = (request, response) => {
      const date = request.headers['x-amz-date'] as string;
      const signedAt = Date.parse(
        `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
      );
      if (Math.abs(signedAt - Date.now()) > 5 * 60_000)
        return fail(403, 'InvalidSignatureException')(request, response);
      response.end();
    };
    const skewed = new SignedConnections(endpoint, { clock: () => Date.now() - 20 * 60_000 });
    await skewed.post('a', 'x');
    expect(received).toHaveLength(2);
    await skewed.post('b', 'x');
    expect(received).toHaveLength(3);
  });

  test('a 403 with a clock that is right is not retried', async () => {
    answer = fail(403, 'InvalidSignatureException');
    await expect(new SignedConnections(endpoint).post('c', 'x')).rejects.toMatchObject({ status: 403 });
    expect(received).toHaveLength(1);
  });

  test('retries come from a budget: when an API keeps failing, later posts are not retried at all', async () => {
    answer = fail(503, 'ServiceUnavailable');
    const connections = new SignedConnections(endpoint, { maxAttempts: 2 });
    const requestsPerPost: number[] = [];
    for (let post = 0; post < 60; post++) {
      const before = received.length;
      await expect(connections.post(`c${post}`, 'x')).rejects.toMatchObject({ status: 503 });
      requestsPerPost.push(received.length - before);
    }
    expect(requestsPerPost[0]).toBe(2);
    expect(requestsPerPost.slice(-10)).toEqual(Array(10).fill(1));
  });

  test('a failure that is neither a network nor an HTTP error is not retried', async () => {
    let calls = 0;
    const broken = new SignedConnections(endpoint, {
      credentials: () => (calls++, Promise.reject(new Error('no credentials here'))),
    });
    await expect(broken.post('c', 'x')).rejects.toThrow('no credentials here');
    expect([calls, received.length]).toEqual([1, 0]);
  });
});
