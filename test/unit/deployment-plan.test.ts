import type { PlannedPermission } from '../../lambdas/rohrpost/deploy';
import { deploymentPlan, environmentOf, plannedFunction } from '../../lambdas/rohrpost/deploy';
import { defineConfig } from '../../lambdas/rohrpost/config';
import projectConfig from '../../rohrpost.config';

const names = {
  managementEndpoint: 'https://api/prod',
  tableName: (id: string) => `table:${id}`,
  queueUrl: (id: string) => `queue:${id}`,
  metricsNamespace: 'ns',
};

const tableActions = (permissions: readonly PlannedPermission[], table: string) =>
  permissions.flatMap((permission) =>
    permission.kind === 'table' && permission.table === table ? permission.actions : [],
  );

/** The project's tables, as rohrpost.config.ts declares them. */
const projectConfigInput = () => ({ tables: projectConfig.tables });

describe('the deployment plan', () => {
  test("the project's configuration deploys the notes example: its table streams to the notification function", () => {
    const plan = deploymentPlan(projectConfig);
    expect(plan.tables.map((table) => [table.id, table.kind, table.stream])).toEqual([
      ['membership', 'membership', false],
      ['history', 'history', false],
      ['notes', 'application', true],
    ]);
    expect(plan.functions.map((fn) => fn.role)).toEqual(['websocket', 'notifications', 'lanes']);
    expect(plan.streamSources).toEqual([
      {
        table: 'notes',
        function: 'notifications',
        startingPosition: 'LATEST',
        batchSize: 100,
        bisectBatchOnFunctionError: true,
        reportBatchItemFailures: true,
        maximumRetryAttempts: 5,
        maximumRecordAgeSeconds: 3600,
        onFailure: 'dead-letters',
      },
    ]);
    expect(plan.queues.map((queue) => queue.id)).toEqual(['dead-letters', 'lane-dead-letters', 'lanes']);
    expect(plan.queueSources).toEqual([
      {
        queue: 'lanes',
        function: 'lanes',
        batchSize: 1,
        maximumConcurrency: 16,
        reportBatchItemFailures: true,
      },
    ]);
    expect(
      plan.routes.map((route) => [route.key, route.function, route.returnResponse, route.authorized]),
    ).toEqual([
      ['$connect', 'websocket', false, false],
      ['$disconnect', 'websocket', false, false],
      ['$default', 'websocket', true, false],
    ]);
    expect(plan.authorizer).toBeUndefined();
  });

  test('handlers get the tables with handlerAccess, the notification function the tables that notify', () => {
    const plan = deploymentPlan(
      defineConfig({
        tables: {
          private: { partitionKey: { name: 'id', type: 'string' }, notifications: {} },
          shared: {
            partitionKey: { name: 'id', type: 'string' },
            handlerAccess: 'read',
            indexes: [{ name: 'byOwner', partitionKey: { name: 'owner', type: 'string' } }],
          },
          none: { partitionKey: { name: 'id', type: 'string' }, handlerAccess: 'none' },
        },
      }),
    );
    const websocket = plannedFunction(plan, 'websocket');
    const notifications = plannedFunction(plan, 'notifications');
    expect(websocket.environment.tables).toEqual(['shared']);
    expect(notifications.environment.tables).toEqual(['private']);
    expect(tableActions(websocket.permissions, 'shared')).not.toContain('dynamodb:PutItem');
    // An index is only read: nothing can be written to it.
    expect(websocket.permissions).toContainEqual(
      expect.objectContaining({ table: 'shared', indexActions: ['dynamodb:Query', 'dynamodb:Scan'] }),
    );
    expect(tableActions(websocket.permissions, 'private')).toEqual([]);
    expect(notifications.permissions).toContainEqual({ kind: 'stream', table: 'private' });
    expect(tableActions(notifications.permissions, 'private')).toEqual([]);
  });

  test('history is kept when a table notifies, unless turned off; its record lifetime is the maximum record age', () => {
    const notifying = { items: { partitionKey: { name: 'id', type: 'string' as const }, notifications: {} } };
    const plan = deploymentPlan(
      defineConfig({ tables: notifying, notifications: { maxRecordAgeSeconds: 600 } }),
    );
    expect(environmentOf(plannedFunction(plan, 'notifications'), names).ROHRPOST_HISTORY).toBe(
      JSON.stringify({
        tableName: 'table:history',
        retentionSeconds: 3600,
        maxMessages: 100,
        positionLifetimeSeconds: 2_592_000,
        recordLifetimeSeconds: 600,
      }),
    );
    const off = deploymentPlan(defineConfig({ tables: notifying, notifications: { history: false } }));
    expect(off.tables.map((table) => table.id)).toEqual(['membership', 'items']);
    for (const fn of off.functions) {
      expect(environmentOf(fn, names)).not.toHaveProperty('ROHRPOST_HISTORY');
      expect(tableActions(fn.permissions, 'history')).toEqual([]);
    }
    expect(deploymentPlan(defineConfig({})).tables.map((table) => table.id)).toEqual(['membership']);
    expect(deploymentPlan(defineConfig({})).functions.map((fn) => fn.role)).toEqual(['websocket']);
  });

  test('the websocket function may start a position in the history, never write a message there', () => {
    const websocket = plannedFunction(deploymentPlan(projectConfig), 'websocket');
    const writes = websocket.permissions.filter(
      (permission) =>
        permission.kind === 'table' &&
        permission.table === 'history' &&
        permission.actions.includes('dynamodb:PutItem'),
    );
    expect(writes).toEqual([
      {
        kind: 'table',
        table: 'history',
        actions: ['dynamodb:PutItem'],
        onlyAttributes: ['group', 'key', 'expiresAt', 'epoch', 'top'],
      },
    ]);
  });

  test('each function is told only what it uses', () => {
    const plan = deploymentPlan({
      ...projectConfig,
      authorizer: defineConfig({ authorizer: { jwt: { issuer: 'https://issuer.example', audience: 'app' } } })
        .authorizer,
    });
    const variables = (role: 'websocket' | 'notifications' | 'authorizer' | 'lanes') =>
      Object.keys(environmentOf(plannedFunction(plan, role), names)).sort();
    expect(variables('websocket')).toEqual([
      'POWERTOOLS_METRICS_NAMESPACE',
      'ROHRPOST_HISTORY',
      'ROHRPOST_LANES',
      'ROHRPOST_MANAGEMENT_ENDPOINT',
      'ROHRPOST_MEMBERSHIP_TABLE',
      'ROHRPOST_TABLE_NAMES',
    ]);
    expect(variables('notifications')).toEqual([
      'POWERTOOLS_METRICS_NAMESPACE',
      'ROHRPOST_DEAD_LETTER_QUEUE_URL',
      'ROHRPOST_HISTORY',
      'ROHRPOST_LANES',
      'ROHRPOST_MANAGEMENT_ENDPOINT',
      'ROHRPOST_MEMBERSHIP_TABLE',
      'ROHRPOST_TABLE_NAMES',
    ]);
    // The lane worker runs no application code: it is told of no application table.
    expect(variables('lanes')).toEqual([
      'POWERTOOLS_METRICS_NAMESPACE',
      'ROHRPOST_HISTORY',
      'ROHRPOST_LANES',
      'ROHRPOST_MANAGEMENT_ENDPOINT',
      'ROHRPOST_MEMBERSHIP_TABLE',
    ]);
    expect(JSON.parse(environmentOf(plannedFunction(plan, 'lanes'), names).ROHRPOST_LANES!)).toEqual({
      groupSize: 2000,
      shardSize: 4000,
      maxShards: 64,
      postsPerSecond: 9000,
      burst: 4500,
      concurrency: 16,
      postsInFlight: 100,
      queueUrl: 'queue:lanes',
    });
    expect(variables('authorizer')).toEqual(['POWERTOOLS_METRICS_NAMESPACE', 'ROHRPOST_JWT']);
    expect(plannedFunction(plan, 'authorizer').permissions).toEqual([]);
    expect(plan.routes.find((route) => route.key === '$connect')?.authorized).toBe(true);
    expect(plan.authorizer).toEqual({
      function: 'authorizer',
      identitySource: ['route.request.querystring.token'],
    });
  });

  test('the lanes: a FIFO queue with its own dead letters, and a worker that may post but never delete a connection', () => {
    const plan = deploymentPlan(projectConfig);
    const queue = plan.queues.find((candidate) => candidate.id === 'lanes')!;
    expect(queue).toMatchObject({
      fifo: true,
      localName: 'rohrpost-lanes.fifo',
      visibilityTimeoutSeconds: 720,
      deadLetter: { queue: 'lane-dead-letters', maxReceiveCount: 20 },
    });
    const worker = plannedFunction(plan, 'lanes');
    expect(worker).toMatchObject({
      entry: 'lambdas/rohrpost/runtime/lane-worker.ts',
      memorySize: 512,
      timeoutSeconds: 120,
    });
    expect(worker.permissions).toContainEqual({ kind: 'manage-connections', methods: ['POST'] });
    expect(worker.permissions).toContainEqual({ kind: 'consume-queue', queue: 'lanes' });
    expect(tableActions(worker.permissions, 'membership')).not.toContain('dynamodb:PutItem');
    expect(tableActions(worker.permissions, 'history')).not.toContain('dynamodb:DeleteItem');
    expect(plannedFunction(plan, 'notifications').permissions).toContainEqual({
      kind: 'send-message',
      queue: 'lanes',
    });
    // Without a history there is nothing for a lane to send: no lanes.
    const withoutHistory = deploymentPlan(
      defineConfig({ ...projectConfigInput(), notifications: { history: false } }),
    );
    expect(withoutHistory.functions.map((fn) => fn.role)).not.toContain('lanes');
    expect(withoutHistory.queues.map((candidate) => candidate.id)).toEqual(['dead-letters']);
    expect(withoutHistory.queueSources).toEqual([]);
  });

  test('is a pure function of the configuration', () => {
    expect(deploymentPlan(projectConfig)).toEqual(deploymentPlan(projectConfig));
  });
});
