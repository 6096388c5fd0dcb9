import { defineConfig } from '../../lambdas/rohrpost/config';

describe('defineConfig', () => {
  test('applies the defaults', () => {
    const config = defineConfig({});
    expect(config.websocket).toEqual({
      entry: 'lambdas/websocket.ts',
      handler: 'handler',
      memorySize: 256,
      timeoutSeconds: 29,
    });
    expect(config.notifications).toEqual({
      entry: 'lambdas/notify.ts',
      handler: 'handler',
      memorySize: 256,
      timeoutSeconds: 60,
      batchSize: 100,
      retryAttempts: 5,
      maxRecordAgeSeconds: 3600,
      concurrency: 50,
      history: { retentionSeconds: 3600, maxMessages: 100, positionLifetimeSeconds: 2_592_000 },
      lanes: {
        groupSize: 2000,
        shardSize: 4000,
        maxShards: 64,
        postsPerSecond: 9000,
        burst: 4500,
        concurrency: 16,
        postsInFlight: 100,
        memorySize: 512,
        timeoutSeconds: 120,
        maxReceiveCount: 20,
      },
    });
    expect(config.authorizer).toBeUndefined();
    expect(defineConfig({ authorizer: { entry: 'a.ts' } }).authorizer?.identitySource).toEqual([
      'route.request.querystring.token',
    ]);
  });

  test('big groups have lanes while groups keep a history; a budget sets its burst', () => {
    expect(defineConfig({ notifications: { history: false } }).notifications.lanes).toBeUndefined();
    expect(defineConfig({ notifications: { lanes: false } }).notifications.lanes).toBeUndefined();
    expect(
      defineConfig({ notifications: { lanes: { postsPerSecond: 2000 } } }).notifications.lanes,
    ).toMatchObject({
      postsPerSecond: 2000,
      burst: 1000,
    });
  });

  test.each([
    [{ history: false as const, lanes: {} }, 'notifications.lanes needs notifications.history'],
    [{ lanes: { maxShards: 48 } }, 'notifications.lanes.maxShards must be a power of two, not 48.'],
    [{ lanes: { maxShards: 256 } }, 'notifications.lanes.maxShards must be a whole number from 1 to 128'],
    [{ lanes: { concurrency: 1 } }, 'notifications.lanes.concurrency must be a whole number from 2 to 1000'],
    [{ lanes: { postsPerSecond: 0.5 } }, 'notifications.lanes.postsPerSecond must be a whole number'],
  ])('refuses lanes that cannot run: %j', (notifications, message) => {
    expect(() => defineConfig({ notifications })).toThrow(message);
  });

  test.each([
    [{ tables: { ab: { partitionKey: { name: 'id', type: 'string' } } } }, "Table label 'ab' must be 3-200"],
    [
      { tables: { 'bad label': { partitionKey: { name: 'id', type: 'string' } } } },
      "Table label 'bad label'",
    ],
    [{ tables: { items: {} } }, "Table 'items' needs a partitionKey."],
    [
      {
        tables: {
          items: { partitionKey: { name: 'id', type: 'string' }, notifications: { group: 'item-{id' } },
        },
      },
      "the group template 'item-{id' is not a group name with {attribute} placeholders",
    ],
    [
      {
        tables: {
          items: { partitionKey: { name: 'id', type: 'string' }, notifications: { group: ['a-{id}', ''] } },
        },
      },
      "the group template '' is not a group name",
    ],
    [
      {
        tables: {
          items: {
            partitionKey: { name: 'id', type: 'string' },
            notifications: { group: ['a-{id}', 'x'.repeat(1_025)] },
          },
        },
      },
      'A group name has at most 1024 bytes; this one has 1025.',
    ],
    [
      { tables: { items: { partitionKey: { name: 'id', type: 'string' }, notifications: { group: [] } } } },
      'notifications.group lists no template',
    ],
    [
      { notifications: { history: { maxMessages: 0 } } },
      'notifications.history.maxMessages must be a whole number from 1 to 10000, not 0.',
    ],
    [
      { notifications: { history: { retentionSeconds: 7200, positionLifetimeSeconds: 3600 } } },
      'notifications.history.positionLifetimeSeconds must be a whole number from 7200',
    ],
    [
      { notifications: { maxRecordAgeSeconds: 86_400, history: { positionLifetimeSeconds: 3600 } } },
      'notifications.history.positionLifetimeSeconds must be a whole number from 86400',
    ],
    [
      {
        tables: { items: { partitionKey: { name: 'id', type: 'string' }, notifications: { object: [''] } } },
      },
      'notifications.object lists attribute names',
    ],
    [
      { notifications: { batchSize: 0 } },
      'notifications.batchSize must be a whole number from 1 to 10000, not 0.',
    ],
    [
      { notifications: { retryAttempts: -1 } },
      'notifications.retryAttempts must be a whole number from 0 to 10000',
    ],
    [
      { notifications: { maxRecordAgeSeconds: 30 } },
      'notifications.maxRecordAgeSeconds must be a whole number from 60',
    ],
    [
      { notifications: { concurrency: 1.5 } },
      'notifications.concurrency must be a whole number from 1 to 1000',
    ],
  ])('refuses %j: %s', (config, message) => {
    expect(() => defineConfig(config as never)).toThrow(message);
  });

  describe('authorizer.jwt', () => {
    test('takes placeholders, which only a deployment refuses: the sandbox signs its own tokens', () => {
      const { authorizer } = defineConfig({
        authorizer: {
          jwt: {
            issuer: 'https://cognito-idp.<region>.amazonaws.com/<user pool id>',
            audience: '<app client id>',
          },
        },
      });
      expect(authorizer?.jwt?.audience).toEqual(['<app client id>']);
    });

    const issuer = 'https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_Example';

    test('resolves to the built-in authorizer, its identity source and settings with defaults', () => {
      const { authorizer } = defineConfig({ authorizer: { jwt: { issuer, audience: 'app' } } });
      expect(authorizer).toEqual({
        entry: 'lambdas/rohrpost/runtime/jwt-authorizer.ts',
        handler: 'handler',
        memorySize: 256,
        timeoutSeconds: 10,
        identitySource: ['route.request.querystring.token'],
        jwt: {
          issuer,
          jwksUri: `${issuer}/.well-known/jwks.json`,
          audience: ['app'],
          clientId: [],
          queryParameter: 'token',
          claims: ['sub'],
          algorithms: ['RS256', 'ES256'],
        },
      });
    });

    test.each([
      [{ issuer }, 'needs an audience or a clientId'],
      [{ issuer: '', audience: 'app' }, "authorizer.jwt.issuer is your identity provider's URL"],
      [{ issuer: 'my-user-pool', audience: 'app' }, 'For a Cognito user pool: https://cognito-idp.<region>'],
      [{ issuer: 'http://example.com', audience: 'app' }, 'not "http://example.com"'],
      [{ issuer, audience: 'app', algorithms: ['HS256'] }, 'asymmetric algorithms only'],
      [{ issuer, audience: 'app', algorithms: [] }, 'asymmetric algorithms only'],
      [{ issuer, audience: 'app', queryParameter: 'a b' }, 'is not a query parameter name'],
    ])('%j is refused: %s', (jwt, message) => {
      expect(() => defineConfig({ authorizer: { jwt: jwt as never } })).toThrow(message);
    });
  });
});
