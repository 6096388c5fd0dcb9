import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ResolvedConfig } from '../../lambdas/rohrpost/config';
import type { GatewayLimits } from '../../sandbox/gateway';
import type { Sandbox } from '../../sandbox/sandbox';
import { startSandbox } from '../../sandbox/sandbox';
import { fixtureConfig } from '../fixtures/app/config';
import { testDynamoDbEndpoint, uniquePrefix } from './dynamodb';
import { recordingReporter } from './recording-reporter';
import { TestSocket } from './socket';

/**
 * The fixture application (or `config`) in a sandbox over the test run's DynamoDB Local, for
 * the tests of a `describe` block: started before them and stopped after; sockets opened with
 * `client()` are closed after each test.
 */
export function useFixtureSandbox(
  options: { readonly config?: ResolvedConfig; readonly limits?: Partial<GatewayLimits> } = {},
) {
  let sandbox: Sandbox | undefined;
  let db: DynamoDBDocumentClient | undefined;
  const reporter = recordingReporter();
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    sandbox = await startSandbox({
      config: options.config ?? fixtureConfig,
      port: 0,
      dynamodb: { endpoint: testDynamoDbEndpoint() },
      tablePrefix: uniquePrefix(),
      limits: options.limits,
      reporter,
    });
    db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: sandbox.dynamodbEndpoint }));
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
  });
  afterAll(async () => {
    db?.destroy();
    await sandbox?.stop();
  });

  const started = () => {
    if (!sandbox || !db) throw new Error('The sandbox starts in beforeAll: use it inside tests.');
    return { sandbox, db };
  };
  return {
    /** Everything the sandbox reported, a line per event. */
    reporter,
    get sandbox(): Sandbox {
      return started().sandbox;
    },
    /** A document client for the sandbox's DynamoDB. */
    get db(): DynamoDBDocumentClient {
      return started().db;
    },
    /** The real name of a table, by its label (`membership` for the membership table). */
    table: (label: string) => started().sandbox.tableNames[label]!,
    put: (label: string, item: Record<string, unknown>) =>
      started().db.send(new PutCommand({ TableName: started().sandbox.tableNames[label]!, Item: item })),
    /** A WebSocket connection to the sandbox, closed after the test. */
    async client(): Promise<TestSocket> {
      const socket = await TestSocket.open(started().sandbox.websocketUrl);
      sockets.push(socket);
      return socket;
    },
  };
}
