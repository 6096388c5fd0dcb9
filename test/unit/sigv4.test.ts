import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { RequestSigner } from '../../lambdas/rohrpost/delivery/sigv4';

/** The lean signer must sign exactly as the SDK's SignatureV4 does. */
describe('RequestSigner', () => {
  /** The hash the SDK's management API client signs with. */
  const sha256 = new ApiGatewayManagementApiClient({ region: 'us-east-1' }).config.sha256;
  const now = new Date('2026-11-22T04:35:30.123Z');

  async function sdkAuthorization(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string,
    credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
    region = 'eu-central-1',
  ) {
    const signer = new SignatureV4({
      service: 'execute-api',
      region,
      credentials,
      sha256,
      applyChecksum: false,
    });
    const signed = await signer.sign(
      { method, protocol: 'https:', hostname: headers.host!, path, headers: { ...headers }, body },
      { signingDate: now },
    );
    return signed.headers;
  }

  test.each([
    ['a post with a session token', 'POST', '/prod/@connections/L0SM9c%2BF%2FHcCIhw%3D', '{"a":1}', 'TOKEN'],
    ['a delete without one', 'DELETE', '/prod/@connections/abc%3D', '', undefined],
    ['a root stage path', 'POST', '/@connections/x', 'text with spaces', undefined],
    ['a dot segment', 'POST', '/prod/@connections/.', '', undefined],
    ['a dot-dot segment', 'POST', '/prod/@connections/..', '', undefined],
    ['empty segments and a trailing slash', 'POST', '/prod//@connections/a/', '', undefined],
    [
      "characters URI encoding keeps but AWS's does not",
      'POST',
      "/prod/@connections/a!b'c(d)e*",
      '',
      undefined,
    ],
  ])('%s: the same headers as SignatureV4', async (_case, method, path, body, sessionToken) => {
    const credentials = {
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      sessionToken,
    };
    const headers = {
      host: 'abc123.execute-api.eu-central-1.amazonaws.com',
      'content-type': 'application/octet-stream',
    };
    const ours = new RequestSigner('execute-api', 'eu-central-1').sign(
      { method, path, headers, body },
      credentials,
      now,
    );
    const theirs = await sdkAuthorization(method, path, headers, body, credentials);
    expect(ours.authorization).toBe(theirs.authorization);
    expect(ours['x-amz-date']).toBe(theirs['x-amz-date']);
    expect(ours['x-amz-security-token']).toBe(theirs['x-amz-security-token']);
  });

  test('any connection id and body sign the same as with SignatureV4', async () => {
    const signer = new RequestSigner('execute-api', 'us-east-1');
    const credentials = { accessKeyId: 'AKID', secretAccessKey: 'secret' };
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1 }),
        fc.string({ unit: 'binary' }),
        async (connectionId, body) => {
          const path = `/stage/@connections/${encodeURIComponent(connectionId)}`;
          const headers = { host: 'api.example.com' };
          const ours = signer.sign({ method: 'POST', path, headers, body }, credentials, now);
          const theirs = await sdkAuthorization('POST', path, headers, body, credentials, 'us-east-1');
          expect(ours.authorization).toBe(theirs.authorization);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('any path, dot and empty segments included, signs the same as with SignatureV4', async () => {
    const signer = new RequestSigner('execute-api', 'us-east-1');
    const credentials = { accessKeyId: 'AKID', secretAccessKey: 'secret' };
    const segment = fc.oneof(
      fc.constantFrom('', '.', '..', '@connections'),
      fc.string({ minLength: 1 }).map(encodeURIComponent),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { maxLength: 5 }), fc.boolean(), async (segments, trailing) => {
        const path = `/${segments.join('/')}${trailing ? '/' : ''}`;
        const headers = { host: 'api.example.com' };
        const ours = signer.sign({ method: 'POST', path, headers, body: '' }, credentials, now);
        const theirs = await sdkAuthorization('POST', path, headers, '', credentials, 'us-east-1');
        expect(ours.authorization).toBe(theirs.authorization);
      }),
      { numRuns: 300 },
    );
  });

  test('the signing key follows the secret and the day', () => {
    const signer = new RequestSigner('execute-api', 'us-east-1');
    const request = { method: 'POST', path: '/x', headers: { host: 'h' }, body: '' };
    const a = signer.sign(request, { accessKeyId: 'A', secretAccessKey: 'one' }, now).authorization;
    const b = signer.sign(request, { accessKeyId: 'A', secretAccessKey: 'two' }, now).authorization;
    const c = signer.sign(
      request,
      { accessKeyId: 'A', secretAccessKey: 'one' },
      new Date('2026-11-23T00:00:00Z'),
    ).authorization;
    expect(new Set([a, b, c]).size).toBe(3);
  });

  test('a request signed after another with other credentials or headers is signed anew', async () => {
    const signer = new RequestSigner('execute-api', 'eu-central-1');
    const path = '/prod/@connections/abc%3D';
    const one = { accessKeyId: 'AKID', secretAccessKey: 'secret', sessionToken: 'one' };
    const two = { ...one, sessionToken: 'two' };
    const a = { host: 'a.example.com' };
    const b = { host: 'b.example.com' };
    const withType = { ...a, 'content-type': 'text/plain' };
    const noSecret = { ...one, secretAccessKey: 'other' };
    for (const [credentials, headers, body] of [
      [one, a, 'x'],
      [two, a, 'x'],
      [two, b, 'x'],
      [two, withType, 'x'],
      [two, a, 'x'],
      [two, a, 'y'],
      [noSecret, a, 'y'],
      [one, a, 'x'],
    ] as const) {
      const ours = signer.sign({ method: 'POST', path, headers, body }, credentials, now);
      const theirs = await sdkAuthorization('POST', path, headers, body, credentials);
      expect(ours).toEqual({
        'x-amz-date': theirs['x-amz-date'],
        'x-amz-security-token': credentials.sessionToken,
        authorization: theirs.authorization,
      });
    }
  });
});
