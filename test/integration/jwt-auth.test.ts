import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { LOCAL_ISSUER } from '../../sandbox/local-issuer';
import jwtConfig from '../fixtures/jwt-app/config';
import { useFixtureSandbox } from '../support/fixture-sandbox';
import { configWithBlockUncommented } from '../support/uncommented-config';
import { eventually } from '../support/recording-reporter';
import { HandshakeRefused, TestSocket } from '../support/socket';

const root = join(__dirname, '../..');

/** The built-in JWT authorizer in the sandbox, against the sandbox's own issuer, as a Cognito user pool would be. */
describe('authorizer.jwt', () => {
  const fixture = useFixtureSandbox({ config: jwtConfig });
  const issuer = () => fixture.sandbox.localIssuer!;
  const url = (token?: string) =>
    token === undefined ? fixture.sandbox.websocketUrl : `${fixture.sandbox.websocketUrl}/?token=${token}`;
  const now = () => Math.floor(Date.now() / 1000);

  test('a valid token connects, and its claims reach handlers as context.identity', async () => {
    const token = await issuer().mint('alice', {
      claims: {
        email: 'alice@example.com',
        'cognito:groups': ['admins', 'editors'],
        secret: 'not passed on',
      },
    });
    const socket = await TestSocket.open(url(token));
    const { data } = await socket.askJson<{ data: { identity: Record<string, unknown> } }>({
      id: 1,
      type: 'whoami',
    });
    expect(data.identity).toMatchObject({
      principalId: 'alice',
      sub: 'alice',
      email: 'alice@example.com',
      'cognito:groups': '["admins","editors"]',
    });
    expect(data.identity).not.toHaveProperty('secret');
    await socket.close();
  });

  test('npm run token mints a token the sandbox accepts, with the claims asked for', async () => {
    const minted = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'sandbox/token-cli.ts',
        'bob',
        '--config',
        'test/fixtures/jwt-app/config.ts',
      ].concat(['--claim', 'email=bob@example.com', '--expires-in', '5m']),
      { cwd: root, encoding: 'utf8' },
    );
    expect(minted.stderr).toBe('');
    const socket = await TestSocket.open(url(minted.stdout.trim()));
    const { data } = await socket.askJson<{ data: { identity: Record<string, unknown> } }>({
      id: 1,
      type: 'whoami',
    });
    expect(data.identity).toMatchObject({ principalId: 'bob', email: 'bob@example.com' });
    await socket.close();
  });

  test('a connection without a token is refused with 401 before the authorizer runs', async () => {
    await expect(TestSocket.open(url())).rejects.toEqual(new HandshakeRefused(401));
  });

  /** A bad token, how to make it, the detail logged, and the reason it is counted under. */
  const badTokens: [string, () => Promise<string>, string, string][] = [
    ['malformed', () => Promise.resolve('not.a.jwt'), 'JWS Protected Header is invalid', 'malformed'],
    [
      'expired',
      () => issuer().sign({ sub: 'alice', aud: 'example-app-client', exp: now() - 60 }),
      '\\"exp\\" claim timestamp check failed',
      'expired',
    ],
    [
      'not yet valid',
      () => issuer().sign({ sub: 'alice', aud: 'example-app-client', nbf: now() + 600 }),
      '\\"nbf\\" claim timestamp check failed',
      'claims',
    ],
    [
      'from another issuer',
      () => issuer().sign({ sub: 'alice', aud: 'example-app-client', iss: 'https://evil.example' }),
      'unexpected \\"iss\\" claim value',
      'claims',
    ],
    [
      'for another audience',
      () => issuer().sign({ sub: 'alice', aud: 'another-app' }),
      'audience',
      'audience',
    ],
    [
      'without an expiry',
      () => issuer().sign({ sub: 'alice', aud: 'example-app-client' }, null),
      'missing required \\"exp\\" claim',
      'claims',
    ],
    [
      'signed with another key under the same key id',
      async () => {
        const { privateKey } = await generateKeyPair('ES256');
        const genuine = await issuer().mint('alice');
        const { kid } = JSON.parse(Buffer.from(genuine.split('.')[0]!, 'base64url').toString()) as {
          kid: string;
        };
        return new SignJWT({ sub: 'alice', aud: 'example-app-client' })
          .setProtectedHeader({ alg: 'ES256', kid })
          .setIssuer(LOCAL_ISSUER)
          .setExpirationTime('1h')
          .sign(privateKey);
      },
      'signature verification failed',
      'signature',
    ],
    [
      'with alg none',
      () => {
        const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
        const claims = { sub: 'alice', aud: 'example-app-client', iss: LOCAL_ISSUER, exp: now() + 3600 };
        return Promise.resolve(`${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`);
      },
      'alg',
      'algorithm',
    ],
    [
      'with a symmetric algorithm keyed with the public key (HS256)',
      async () => {
        const publicJwk = await exportJWK((await generateKeyPair('ES256')).publicKey);
        return new SignJWT({ sub: 'alice', aud: 'example-app-client' })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(LOCAL_ISSUER)
          .setExpirationTime('1h')
          .sign(Buffer.from(JSON.stringify(publicJwk)));
      },
      'alg',
      'algorithm',
    ],
  ];

  test.each(badTokens)(
    'a token %s is refused with 401, the reason logged and counted, not told',
    async (_name, make, detail, reason) => {
      const counted = () =>
        fixture.sandbox.metrics.snapshot()[`ConnectionsRefused (reason=${reason})`]?.sum ?? 0;
      const before = counted();
      const token = await make();
      await expect(TestSocket.open(url(encodeURIComponent(token)))).rejects.toEqual(
        new HandshakeRefused(401),
      );
      await eventually(() => counted() === before + 1);
      await eventually(() =>
        fixture.reporter.lines.some(
          (line) =>
            line.includes('Connection refused') &&
            line.includes(detail) &&
            line.includes(`"reason":"${reason}"`),
        ),
      ).catch((error: unknown) => {
        const lines = fixture.reporter.lines.filter((line) => line.includes('authorizer')).join('\n');
        throw new Error(`${(error as Error).message}: ${lines}`);
      });
    },
  );

  describe("the demo page's sign-in, which only the sandbox serves", () => {
    const at = (path: string) => `${fixture.sandbox.gateway.origin}${path}`;
    const post = (body: string, contentType = 'application/json') =>
      fetch(at('/.sandbox/token'), { method: 'POST', headers: { 'content-type': contentType }, body });

    test('GET /.sandbox/auth says that connections need a token, and in which parameter', async () => {
      const response = await fetch(at('/.sandbox/auth'));
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ jwt: true, tokenParameter: 'token' });
    });

    test('POST /.sandbox/token mints a token for the user, which opens a connection as that user', async () => {
      const response = await post('{"user": "alice"}');
      expect(response.status).toBe(200);
      const { user, token, expiresAt } = (await response.json()) as Record<string, string>;
      expect(user).toBe('alice');
      const claims = JSON.parse(Buffer.from(token!.split('.')[1]!, 'base64url').toString()) as {
        exp: number;
      };
      expect(claims.exp * 1000).toBe(Date.parse(expiresAt!));
      const socket = await TestSocket.open(url(token));
      const { data } = await socket.askJson<{ data: { identity: Record<string, unknown> } }>({
        id: 1,
        type: 'whoami',
      });
      expect(data.identity).toMatchObject({ principalId: 'alice', sub: 'alice' });
      await socket.close();
    });

    const userRule = "Field 'user' must be a user name: 1 to 64 letters, digits or the characters . _ @ + -";
    test.each<[string, number, string, () => Promise<Response>]>([
      ['an empty user', 400, userRule, () => post('{"user": ""}')],
      ['a user that is no string', 400, userRule, () => post('{"user": 5}')],
      ['a user with a space', 400, userRule, () => post('{"user": "alice smith"}')],
      ['a user of 65 characters', 400, userRule, () => post(JSON.stringify({ user: 'a'.repeat(65) }))],
      ['no JSON', 400, 'The request is not JSON: send {"user": "<name>"}.', () => post('user=alice')],
      [
        'JSON sent as another type',
        415,
        'Send {"user": "<name>"} as content-type application/json.',
        () => post('{"user": "alice"}', 'text/plain'),
      ],
      [
        'a body over 1 KB',
        413,
        'The request is over 1024 bytes: send {"user": "<name>"}.',
        () => post(JSON.stringify({ user: 'alice', padding: 'x'.repeat(2_000) })),
      ],
      ['GET on the token path', 405, 'Use POST.', () => fetch(at('/.sandbox/token'))],
      ['POST on the auth path', 405, 'Use GET.', () => fetch(at('/.sandbox/auth'), { method: 'POST' })],
    ])('%s is answered %i with a JSON error', async (_case, status, error, request) => {
      const response = await request();
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toBe('application/json');
      expect(await response.json()).toEqual({ error });
    });
  });
});

/** A new user switches JWT on by uncommenting the block rohrpost.config.ts ships with: it works at once in the sandbox. */
describe('the JWT block shipped in rohrpost.config.ts, uncommented', () => {
  const fixture = useFixtureSandbox({ config: configWithBlockUncommented('authorizer') });

  test('connections need a token; one from the local issuer connects, placeholders and all', async () => {
    await expect(TestSocket.open(fixture.sandbox.websocketUrl)).rejects.toEqual(new HandshakeRefused(401));
    const token = await fixture.sandbox.localIssuer!.mint('alice');
    const socket = await TestSocket.open(`${fixture.sandbox.websocketUrl}/?token=${token}`);
    expect(await socket.askJson({ id: 1, type: 'ping' })).toEqual({ id: 1, type: 'pong' });
    await socket.close();
  });
});
