import {
  defineConfig,
  handlerTableLabels,
  historySettings,
  keepsHistory,
  notifyingTableLabels,
} from '../../lambdas/rohrpost/config';
import projectConfig from '../../rohrpost.config';

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
    });
    expect(config.authorizer).toBeUndefined();
    expect(defineConfig({ authorizer: { entry: 'a.ts' } }).authorizer?.identitySource).toEqual([
      'route.request.querystring.token',
    ]);
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

  test('lists the tables handlers may use and the tables that notify', () => {
    const config = defineConfig({
      tables: {
        private: { partitionKey: { name: 'id', type: 'string' }, notifications: {} },
        shared: { partitionKey: { name: 'id', type: 'string' }, handlerAccess: 'read' },
        none: { partitionKey: { name: 'id', type: 'string' }, handlerAccess: 'none' },
      },
    });
    expect(handlerTableLabels(config)).toEqual(['shared']);
    expect(notifyingTableLabels(config)).toEqual(['private']);
  });

  test('history is kept when a table notifies, unless turned off', () => {
    const notifying = { items: { partitionKey: { name: 'id', type: 'string' as const }, notifications: {} } };
    const config = defineConfig({ tables: notifying, notifications: { maxRecordAgeSeconds: 600 } });
    expect(keepsHistory(config)).toBe(true);
    expect(historySettings(config, 'history-table')).toEqual({
      tableName: 'history-table',
      retentionSeconds: 3600,
      maxMessages: 100,
      positionLifetimeSeconds: 2_592_000,
      recordLifetimeSeconds: 600,
    });
    const off = defineConfig({ tables: notifying, notifications: { history: false } });
    expect([keepsHistory(off), historySettings(off, 'x')]).toEqual([false, undefined]);
    expect(keepsHistory(defineConfig({}))).toBe(false);
  });

  test("the project's configuration is valid and ships the notes example", () => {
    expect(notifyingTableLabels(projectConfig)).toEqual(['notes']);
    expect(handlerTableLabels(projectConfig)).toEqual(['notes']);
  });

  describe('authorizer.jwt', () => {
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
      [{ issuer: '', audience: 'app' }, 'issuer'],
      [{ issuer, audience: 'app', algorithms: ['HS256'] }, 'asymmetric algorithms only'],
      [{ issuer, audience: 'app', algorithms: [] }, 'asymmetric algorithms only'],
      [{ issuer, audience: 'app', queryParameter: 'a b' }, 'is not a query parameter name'],
    ])('%j is refused: %s', (jwt, message) => {
      expect(() => defineConfig({ authorizer: { jwt: jwt as never } })).toThrow(message);
    });
  });
});
