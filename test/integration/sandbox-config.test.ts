import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { loadConfig } from '../../sandbox/config-file';
import type { Sandbox } from '../../sandbox/sandbox';
import { startSandbox } from '../../sandbox/sandbox';
import { testDynamoDbEndpoint, uniquePrefix } from '../support/dynamodb';
import { TestSocket } from '../support/socket';
import type { Update } from '../support/updates';

/** An application of its own, in a folder the test writes, so that its configuration can change while it runs. */
const app = join(__dirname, `../fixtures/.live-config-${process.pid}`);
const framework = "'../../../lambdas/rohrpost'";

const table = (name: string, group: string) =>
  `${name}: { partitionKey: { name: 'id', type: 'string' }, handlerAccess: 'read', notifications: { group: '${group}' } },`;
const config = (tables: string) => `
  import { join } from 'node:path';
  import { defineConfig } from ${framework};
  export default defineConfig({
    websocket: { entry: join(__dirname, 'websocket.ts') },
    notifications: { entry: join(__dirname, 'notify.ts') },
    tables: { ${tables} },
  });`;

describe('a running sandbox whose configuration gains a table', () => {
  let sandbox: Sandbox;
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: testDynamoDbEndpoint() }));
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'config.ts'), config(table('notes', 'note-{id}')));
    writeFileSync(
      join(app, 'websocket.ts'),
      `import { createWebSocketHandler, defineHandler, HandlerError, subscriptionHandlers, tableName } from ${framework};
       export const handler = createWebSocketHandler({
         handlers: [
           subscriptionHandlers({ authorize: ({ group }) => (typeof group === 'string' ? group : undefined) }),
           defineHandler('table-name', (request, context) => {
             try {
               context.reply({ name: tableName(String(request.data)) });
             } catch (error) {
               throw new HandlerError((error as Error).message);
             }
           }),
         ],
       });`,
    );
    writeFileSync(
      join(app, 'notify.ts'),
      `import { createNotificationHandler } from ${framework};
       import config from './config';
       export const handler = createNotificationHandler({ config });`,
    );
    sandbox = await startSandbox({
      config: loadConfig(join(app, 'config.ts')),
      port: 0,
      dynamodb: { endpoint: testDynamoDbEndpoint() },
      tablePrefix: uniquePrefix(),
      watch: true,
    });
  });
  afterAll(async () => {
    await Promise.all(sockets.map((socket) => socket.close()));
    db.destroy();
    await sandbox?.stop();
    rmSync(app, { recursive: true, force: true });
  });

  async function client(): Promise<TestSocket> {
    const socket = await TestSocket.open(sandbox.websocketUrl);
    sockets.push(socket);
    return socket;
  }

  /** Saves a new configuration, as a developer does, and gives it to the sandbox as `npm start` does. */
  async function save(tables: string) {
    const changedAt = Date.now();
    writeFileSync(join(app, 'config.ts'), config(tables));
    return sandbox.applyConfig(loadConfig(join(app, 'config.ts')), changedAt);
  }

  test('creates it with its stream, tells the functions, and notifies its changes', async () => {
    const socket = await client();
    expect(await socket.askJson({ id: 1, type: 'table-name', data: 'todos' })).toMatchObject({
      error: expect.stringContaining("Table 'todos' is not available to this function."),
    });

    const change = await save(`${table('notes', 'note-{id}')} ${table('todos', 'todo-{id}')}`);
    expect(change).toEqual({
      applied: [
        `created table ${sandbox.tableNames.todos} with its stream`,
        'told the websocket function its new environment',
        'told the notifications function its new environment',
        `reading the stream of ${sandbox.tableNames.todos}`,
      ],
      needRestart: [],
    });
    expect(await socket.askJson({ id: 2, type: 'table-name', data: 'todos' })).toEqual({
      id: 2,
      type: 'table-name',
      data: { name: sandbox.tableNames.todos },
    });

    expect(await socket.askJson({ id: 3, type: 'subscribe', data: 'todo-1' })).toMatchObject({
      data: { group: 'todo-1' },
    });
    await db.send(
      new PutCommand({ TableName: sandbox.tableNames.todos, Item: { id: '1', title: 'New table' } }),
    );
    expect((await socket.nextJson<Update>()).data).toMatchObject({
      group: 'todo-1',
      type: 'create',
      object: { id: '1' },
    });
  });

  test('says what only a restart applies, and takes on nothing of such a change', async () => {
    const tables = Object.keys(sandbox.tableNames).sort();
    const change = await save(
      `notes: { partitionKey: { name: 'key', type: 'string' }, notifications: {} }, ${table('todos', 'todo-{id}')}`,
    );
    expect(change).toEqual({ applied: [], needRestart: ['table notes changed its keys, indexes or stream'] });
    expect(Object.keys(sandbox.tableNames).sort()).toEqual(tables);
  });
});
