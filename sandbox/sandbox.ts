import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FunctionConfig, ResolvedConfig } from '../lambdas/config';
import { handlerTableLabels } from '../lambdas/config';
import { ApiGatewayLimits } from '../lambdas/delivery/limits';
import { functionEnvironment } from '../lambdas/environment';
import { membershipTableDefinition } from '../lambdas/storage/membership-table';
import { localLambdaEnvironment, LOCAL_REGION } from './aws-local';
import { startDynamoDbLocal } from './dynamodb-local';
import type { GatewayLimits, GatewayReporter } from './gateway';
import { Gateway } from './gateway';
import type { FunctionReporter } from './local-function';
import { LocalFunction } from './local-function';
import { createTables } from './tables';

/** Everything the sandbox reports; the CLI prints it, tests usually ignore it. */
export interface SandboxReporter extends GatewayReporter, FunctionReporter {}

export interface SandboxOptions {
  /** The configuration to run, usually the project's rohrpost.config.ts. */
  readonly config: ResolvedConfig;
  /** The folder that function entries are relative to. @default the project this file is in */
  readonly projectRoot?: string;
  /** The WebSocket and management API port; 0 picks a free one. @default 3001 */
  readonly port?: number;
  /** The address to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** The API Gateway stage name, in events and the management endpoint. @default 'local' */
  readonly stage?: string;
  /** Start DynamoDB Local on `port` (a free one by default), or use the DynamoDB at `endpoint`. @default {} */
  readonly dynamodb?: { readonly port?: number } | { readonly endpoint: string };
  /** Prefix of every table name, to share one DynamoDB between sandboxes. @default '' */
  readonly tablePrefix?: string;
  /** Rebuild and reload functions when their source changes. @default false */
  readonly watch?: boolean;
  /** API Gateway's quotas, to shorten in tests. @default API Gateway's */
  readonly limits?: Partial<GatewayLimits>;
  /** @default reports nothing */
  readonly reporter?: SandboxReporter;
}

export interface Sandbox {
  /** Where WebSocket clients connect, e.g. `ws://localhost:3001`. */
  readonly websocketUrl: string;
  /** The management API endpoint for @aws-sdk/client-apigatewaymanagementapi. */
  readonly managementEndpoint: string;
  readonly dynamodbEndpoint: string;
  /** Table names by label; `membership` is the membership table. */
  readonly tableNames: Readonly<Record<string, string>>;
  readonly gateway: Gateway;
  /** Stops everything the sandbox started, DynamoDB Local included. */
  stop(): Promise<void>;
}

export const MEMBERSHIP_TABLE_LABEL = 'membership';

const SILENT: SandboxReporter = {
  connected: () => undefined,
  refused: () => undefined,
  disconnected: () => undefined,
  frame: () => undefined,
  invoked: () => undefined,
  failed: () => undefined,
  output: () => undefined,
  reloaded: () => undefined,
  functionFailed: () => undefined,
};

/**
 * Starts the local stand-in for the deployed stack: DynamoDB Local with the configured tables,
 * the functions in worker threads, and the gateway in front of them. If any part fails to
 * start, the parts already started are stopped before the error is thrown.
 */
export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const { config } = options;
  const projectRoot = options.projectRoot ?? resolve(__dirname, '..');
  const reporter = options.reporter ?? SILENT;
  const prefix = options.tablePrefix ?? '';
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const step of stops.reverse()) await step().catch(() => undefined);
  };

  try {
    const dynamodb = options.dynamodb ?? {};
    let dynamodbEndpoint: string;
    if ('endpoint' in dynamodb) {
      dynamodbEndpoint = dynamodb.endpoint;
    } else {
      const database = await startDynamoDbLocal({ port: dynamodb.port });
      stops.push(() => database.stop());
      dynamodbEndpoint = database.endpoint;
    }

    const tableNames: Record<string, string> = { [MEMBERSHIP_TABLE_LABEL]: `${prefix}rohrpost-membership` };
    for (const label of Object.keys(config.tables)) tableNames[label] = `${prefix}${label}`;
    await createTables(dynamodbEndpoint, [
      {
        tableName: tableNames[MEMBERSHIP_TABLE_LABEL]!,
        definition: membershipTableDefinition,
        stream: false,
      },
      ...Object.entries(config.tables).map(([label, definition]) => ({
        tableName: tableNames[label]!,
        definition,
        stream: true,
      })),
    ]);

    const stage = options.stage ?? 'local';
    const gateway = new Gateway({
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 3001,
      stage,
      apiId: 'sandbox',
      region: LOCAL_REGION,
      limits: { ...ApiGatewayLimits, ...options.limits },
      reporter,
    });
    await gateway.listen();
    stops.push(() => gateway.stop());

    const buildDirectory = join(
      projectRoot,
      'node_modules',
      '.cache',
      'rohrpost-sandbox',
      randomBytes(6).toString('hex'),
    );
    stops.push(() => Promise.resolve(rmSync(buildDirectory, { recursive: true, force: true })));
    const environment = functionEnvironment({
      managementEndpoint: gateway.managementEndpoint,
      membershipTable: tableNames[MEMBERSHIP_TABLE_LABEL]!,
      tableNames: Object.fromEntries(handlerTableLabels(config).map((label) => [label, tableNames[label]!])),
    });
    const startFunction = async (name: string, fn: Required<FunctionConfig>) => {
      const started = await LocalFunction.start({
        name,
        entry: resolve(projectRoot, fn.entry),
        handler: fn.handler,
        memorySize: fn.memorySize,
        timeoutMs: fn.timeoutSeconds * 1000,
        environment: {
          ...localLambdaEnvironment({ functionName: name, memorySize: fn.memorySize, dynamodbEndpoint }),
          ...environment,
        },
        buildDirectory,
        watch: options.watch ?? false,
        reporter,
      });
      stops.push(() => started.stop());
      return started;
    };
    const websocket = await startFunction('websocket', config.websocket);
    const authorizer = config.authorizer && (await startFunction('authorizer', config.authorizer));
    gateway.attach({
      websocket,
      authorizer: authorizer && { function: authorizer, identitySource: config.authorizer.identitySource },
    });

    return {
      websocketUrl: `ws://localhost:${gateway.port}`,
      managementEndpoint: gateway.managementEndpoint,
      dynamodbEndpoint,
      tableNames,
      gateway,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
