import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { JwtSettings } from '../../lambdas/rohrpost/environment';
import { JwtVerifier, TokenRefused } from '../../lambdas/rohrpost/runtime/jwt-authorizer';
import { LocalIssuer } from '../../sandbox/local-issuer';

/** The JWT check against a JWKS endpoint over loopback that counts its requests. */
describe('JwtVerifier', () => {
  let jwksRequests = 0;
  let issuer: LocalIssuer;
  let settings: JwtSettings;
  const server = createServer((request, response) => {
    jwksRequests++;
    if (!issuer.serve(request, response)) response.writeHead(404).end();
  });

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base: JwtSettings = {
      issuer: 'https://issuer.example',
      jwksUri: '',
      audience: ['app'],
      clientId: ['cli'],
      queryParameter: 'token',
      claims: ['sub', 'scope'],
      algorithms: ['ES256'],
    };
    issuer = await LocalIssuer.load(join(__dirname, '../..'), base);
    settings = issuer.settingsAt(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  test("fetches the issuer's keys once for many tokens, not at construction", async () => {
    jwksRequests = 0;
    const verifier = new JwtVerifier(settings);
    expect(jwksRequests).toBe(0);
    for (const user of ['a', 'b', 'c']) {
      await expect(verifier.verify(await issuer.mint(user))).resolves.toMatchObject({ principalId: user });
    }
    expect(jwksRequests).toBe(1);
  });

  test('an access token is accepted by its client_id, and its claims pass as API Gateway can carry them', async () => {
    const verifier = new JwtVerifier(settings);
    const token = await issuer.sign({ sub: 'svc', client_id: 'cli', scope: ['read', 'write'] });
    await expect(verifier.verify(token)).resolves.toEqual({
      principalId: 'svc',
      context: { sub: 'svc', scope: '["read","write"]' },
    });
    await expect(
      verifier.verify(await issuer.sign({ sub: 'svc', client_id: 'other' })),
    ).rejects.toBeInstanceOf(TokenRefused);
  });

  test('a token without a subject is refused', async () => {
    const verifier = new JwtVerifier(settings);
    await expect(verifier.verify(await issuer.sign({ sub: '', aud: 'app' }))).rejects.toBeInstanceOf(
      TokenRefused,
    );
  });

  test('keys that cannot be fetched are a failure, not a refusal: the authorizer logs it and answers 403', async () => {
    const verifier = new JwtVerifier({ ...settings, jwksUri: 'http://127.0.0.1:9/jwks.json' });
    const failure = await verifier.verify(await issuer.mint('a')).catch((error: unknown) => error);
    // fetch's TypeError comes from outside the test's realm: compare by shape.
    expect(failure).toMatchObject({ name: 'TypeError', message: 'fetch failed' });
  });
});
