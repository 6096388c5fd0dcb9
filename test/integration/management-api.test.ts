import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { connect } from 'node:net';
import { ManagementApiError, SignedConnections } from '../../lambdas/rohrpost/delivery/signed-connections';
import { useFixtureSandbox } from '../support/fixture-sandbox';

interface RawAnswer {
  readonly status: number;
  readonly errorType: string | undefined;
  readonly body: string;
}

/**
 * The sandbox's management API as API Gateway's: only requests signed for `execute-api` with
 * the credentials the sandbox gives its functions are served; nothing a client sends stops it.
 */
describe("the sandbox's management API", () => {
  const fixture = useFixtureSandbox();
  const sha256 = new ApiGatewayManagementApiClient({ region: 'us-east-1' }).config.sha256;

  const origin = () => new URL(fixture.sandbox.managementEndpoint);

  /** Sends bytes as they are (no client-side checks) and reads the answer until the server closes. */
  function raw(request: string | Buffer): Promise<RawAnswer> {
    return new Promise((resolve, reject) => {
      const socket = connect(Number(origin().port), '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.on('data', (chunk) => chunks.push(chunk));
      socket.on('error', reject);
      socket.on('close', () => {
        const text = Buffer.concat(chunks).toString('latin1');
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
        const errorType = /\r\nx-amzn-errortype: ([^\r]*)/i.exec(text)?.[1];
        resolve({ status, errorType, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
      });
      socket.end(request);
    });
  }

  function rawRequest(
    method: string,
    path: string,
    headers: Record<string, string>,
    body = '',
  ): Promise<RawAnswer> {
    const lines = Object.entries({
      host: origin().host,
      ...headers,
      'content-length': String(Buffer.byteLength(body)),
    })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    return raw(`${method} ${path} HTTP/1.1\r\n${lines}connection: close\r\n\r\n${body}`);
  }

  /** The headers of a request signed with `@smithy/signature-v4`, as the SDK signs one. */
  async function signedHeaders(
    method: string,
    path: string,
    body = '',
    options: { secretAccessKey?: string; accessKeyId?: string; signingDate?: Date } = {},
  ): Promise<Record<string, string>> {
    const signer = new SignatureV4({
      service: 'execute-api',
      region: 'us-east-1',
      credentials: {
        accessKeyId: options.accessKeyId ?? 'local',
        secretAccessKey: options.secretAccessKey ?? 'local',
      },
      sha256,
      applyChecksum: false,
    });
    const signed = await signer.sign(
      {
        method,
        protocol: 'http:',
        hostname: origin().hostname,
        path,
        headers: { host: origin().host, 'content-length': String(Buffer.byteLength(body)) },
        body,
      },
      { signingDate: options.signingDate },
    );
    // rawRequest writes host and content-length itself.
    return Object.fromEntries(
      Object.entries(signed.headers).filter(([name]) => name !== 'host' && name !== 'content-length'),
    );
  }

  async function connectedClient() {
    const socket = await fixture.client();
    const { data } = await socket.askJson<{ data: { connectionId: string } }>({ id: 'who', type: 'whoami' });
    return { socket, path: `/local/@connections/${encodeURIComponent(data.connectionId)}` };
  }

  test('a malformed percent-escape in the connection id is refused, with any method and stage, and the sandbox lives on', async () => {
    const { socket } = await connectedClient();
    for (const id of ['%E0%A4%A', '%', '%zz', '%C0']) {
      for (const prefix of ['/local', '', '/other']) {
        const path = `${prefix}/@connections/${id}`;
        for (const method of ['POST', 'GET', 'DELETE', 'PATCH']) {
          expect(await rawRequest(method, path, {})).toMatchObject({ status: 403 });
        }
        for (const method of ['POST', 'GET', 'DELETE']) {
          const answer = await rawRequest(method, path, await signedHeaders(method, path));
          expect(answer).toMatchObject({ status: 400, errorType: 'BadRequestException' });
          expect(answer.body).toContain('{"message":"Invalid connectionId"}');
        }
      }
    }
    expect(await socket.ask({ id: 1, type: 'ping' })).toBe('{"id":1,"type":"pong"}');
  });

  test('a request that is not signed, or badly, is answered 403 with the error type API Gateway gives, and does nothing', async () => {
    const { socket, path } = await connectedClient();
    const body = '{"type":"forged"}';
    const refusals: [Record<string, string>, string][] = [
      [{}, 'MissingAuthenticationTokenException'],
      [{ authorization: 'garbage' }, 'IncompleteSignatureException'],
      [await signedHeaders('POST', path, body, { secretAccessKey: 'wrong' }), 'InvalidSignatureException'],
      [
        await signedHeaders('POST', path, body, { accessKeyId: 'someone-else' }),
        'UnrecognizedClientException',
      ],
      [
        await signedHeaders('POST', path, body, { signingDate: new Date(Date.now() - 10 * 60_000) }),
        'InvalidSignatureException',
      ],
      // Signed for another body: the message was changed on the way.
      [await signedHeaders('POST', path, '{"type":"genuine"}'), 'InvalidSignatureException'],
    ];
    for (const [headers, errorType] of refusals) {
      expect(await rawRequest('POST', path, headers, body)).toMatchObject({ status: 403, errorType });
    }
    // GET would show the client's address, DELETE would cut it off: neither without a signature.
    expect(await rawRequest('GET', path, {})).toMatchObject({ status: 403 });
    expect(await rawRequest('DELETE', path, {})).toMatchObject({ status: 403 });

    expect(await rawRequest('POST', path, await signedHeaders('POST', path, body), body)).toMatchObject({
      status: 200,
    });
    expect(await socket.next()).toBe(body); // the signed message, and none of the forged ones before it
    expect(await socket.ask({ id: 2, type: 'ping' })).toBe('{"id":2,"type":"pong"}');
  });

  test("the hand-written signer of the fan-out passes API Gateway's check; wrong credentials fail at once, without retries", async () => {
    const { socket, path } = await connectedClient();
    const connectionId = decodeURIComponent(path.split('/').at(-1)!);
    const signed = new SignedConnections(fixture.sandbox.managementEndpoint);
    await signed.post(connectionId, '{"type":"signed"}');
    expect(await socket.next()).toBe('{"type":"signed"}');
    // A clock half an hour off is refused once, then corrected from the sandbox's Date header.
    const skewed = new SignedConnections(fixture.sandbox.managementEndpoint, {
      clock: () => Date.now() + 30 * 60_000,
    });
    await skewed.post(connectionId, '{"type":"skewed"}');
    expect(await socket.next()).toBe('{"type":"skewed"}');

    let attempts = 0;
    const forged = new SignedConnections(fixture.sandbox.managementEndpoint, {
      credentials: () => (
        attempts++,
        Promise.resolve({ accessKeyId: 'local', secretAccessKey: 'not-the-secret' })
      ),
    });
    const failure = await forged.post(connectionId, '{"type":"forged"}').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ManagementApiError);
    expect(failure).toMatchObject({ status: 403, errorType: 'InvalidSignatureException' });
    expect(attempts).toBe(1);
  });

  test('fuzzed paths, methods and headers: every answer is an HTTP status API Gateway could give, and the sandbox lives on', async () => {
    const { socket } = await connectedClient();
    const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}$/);
    const segment = fc.oneof(
      fc.constantFrom('@connections', 'local', '%', '%zz', '%E0%A4%A', '%C0', '..', '', '?a=%', '#'),
      fc.string({ unit: 'binary-ascii', maxLength: 12 }).map((text) => text.replace(/[\r\n ]/g, '')),
    );
    const request = fc.record({
      method: fc.oneof(fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'OPTIONS', 'HEAD'), token),
      path: fc.array(segment, { maxLength: 5 }).map((segments) => `/${segments.join('/')}`),
      headers: fc.dictionary(
        token,
        fc.oneof(
          fc.constantFrom('AWS4-HMAC-SHA256 Credential=local/20261202/us-east-1/execute-api/aws4_request'),
          fc.string({ unit: 'binary-ascii', maxLength: 40 }).map((text) => text.replace(/[\r\n]/g, '')),
        ),
        { maxKeys: 4 },
      ),
      body: fc.string({ maxLength: 64 }),
    });
    const statuses = new Set([200, 204, 400, 403, 404, 410, 413, 426, 431]);
    await fc.assert(
      fc.asyncProperty(request, async ({ method, path, headers, body }) => {
        delete headers.host;
        delete headers['content-length'];
        const answer = await rawRequest(method, path, headers, body);
        expect(statuses).toContain(answer.status);
      }),
      { numRuns: 300 },
    );
    expect(await socket.ask({ id: 3, type: 'ping' })).toBe('{"id":3,"type":"pong"}');
  });
});
