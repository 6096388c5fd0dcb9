import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import type { JwtSettings, ResolvedConfig, ResolvedFunction } from '../lambdas/rohrpost';
import {
  ApiGatewayLimits,
  functionEnvironment,
  handlerTableLabels,
  historySettings,
  historyTableDefinition,
  keepsHistory,
  membershipTableDefinition,
  notifyingTableLabels,
} from '../lambdas/rohrpost';
import { localLambdaEnvironment, LOCAL_REGION } from './aws-local';
import { createBuildDirectory } from './build-directory';
import type { DeadLetter } from './dead-letter-queue';
import { LocalDeadLetterQueue } from './dead-letter-queue';
import type { DynamoDbLocal } from './dynamodb-local';
import { startDynamoDbLocal } from './dynamodb-local';
import type { GatewayLimits, GatewayReporter } from './gateway';
import { Gateway } from './gateway';
import type { FunctionReporter } from './local-function';
import { LocalFunction } from './local-function';
import { LocalIssuer } from './local-issuer';
import { MetricsSummary } from './metrics-summary';
import { PageServer } from './page-server';
import type { StreamReporter } from './stream-poller';
import { StreamPoller } from './stream-poller';
import { createTables } from './tables';

/** Everything the sandbox reports; the CLI prints it, tests usually ignore it. */
export interface SandboxReporter extends GatewayReporter, FunctionReporter, StreamReporter {}

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
  /** A folder with `index.html` and `app.ts`, served as a page at the root URL. @default no page */
  readonly page?: string;
  /** @default reports nothing */
  readonly reporter?: SandboxReporter;
}

export interface Sandbox {
  /** Where WebSocket clients connect, e.g. `ws://localhost:3001`. */
  readonly websocketUrl: string;
  /** Where the page is, when there is one: `http://localhost:3001/`. */
  readonly pageUrl: string | undefined;
  /** The management API endpoint for @aws-sdk/client-apigatewaymanagementapi. */
  readonly managementEndpoint: string;
  readonly dynamodbEndpoint: string;
  /** Table names by label; `membership` is the membership table. */
  readonly tableNames: Readonly<Record<string, string>>;
  /** The groups' history table; `undefined` when no group keeps a history. */
  readonly historyTable: string | undefined;
  readonly gateway: Gateway;
  /** What the functions' metrics add up to, as CloudWatch would show them; also at GET /.sandbox/metrics. */
  readonly metrics: MetricsSummary;
  /** The identity provider standing in for the configured one, when `authorizer.jwt` is set. */
  readonly localIssuer: LocalIssuer | undefined;
  /** Stream records set aside: on AWS they would be in the dead-letter queue. */
  readonly deadLetters: readonly DeadLetter[];
  /** Stops everything the sandbox started, DynamoDB Local included. */
  stop(): Promise<void>;
}

const MEMBERSHIP_TABLE_LABEL = 'membership';

const SILENT: SandboxReporter = {
  connected: () => undefined,
  refused: () => undefined,
  disconnected: () => undefined,
  frame: () => undefined,
  invoked: () => undefined,
  failed: () => undefined,
  output: () => undefined,
  reloaded: () => undefined,
  coldStart: () => undefined,
  functionFailed: () => undefined,
  streamDelivered: () => undefined,
  streamRetrying: () => undefined,
  deadLettered: () => undefined,
  streamFailed: () => undefined,
};

/** What a sandbox has started, so far: each part is stopped in `stopParts`'s order. */
interface Parts {
  database?: DynamoDbLocal;
  gateway?: Gateway;
  buildDirectory?: string;
  functions: LocalFunction[];
  pollers: StreamPoller[];
  page?: PageServer;
  /** What the functions sent to the dead-letter queue themselves. */
  deadLetters: DeadLetter[];
}

/**
 * Stops what was started: the stream pollers first, so that no batch is cut off; then the
 * gateway, whose closing connections still reach `$disconnect` in the running functions;
 * then the functions, their build files and DynamoDB Local.
 */
async function stopParts(parts: Parts): Promise<void> {
  const steps = [
    ...parts.pollers.map((poller) => () => poller.stop()),
    () => parts.gateway?.stop(),
    () => parts.page?.stop(),
    ...parts.functions.map((fn) => () => fn.stop()),
    () => parts.buildDirectory && rmSync(parts.buildDirectory, { recursive: true, force: true }),
    () => parts.database?.stop(),
  ];
  for (const step of steps) {
    try {
      await step();
    } catch {
      // Keep going: everything that was started must be stopped.
    }
  }
}

/**
 * Starts the local stand-in for the deployed stack: DynamoDB Local with the configured tables,
 * the functions in worker threads, the gateway in front of them, and the stream pollers that
 * feed the notification function. If any part fails to start, the parts already started are
 * stopped before the error is thrown.
 */
export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const { config } = options;
  const projectRoot = options.projectRoot ?? resolve(__dirname, '..');
  const reporter = options.reporter ?? SILENT;
  const metrics = new MetricsSummary();
  // The functions' metric lines go to the summary (one per message would drown the log), the rest to the log.
  const functionReporter: FunctionReporter = {
    ...reporter,
    output: (name, line, stream) => {
      if (!metrics.observe(line)) reporter.output(name, line, stream);
    },
  };
  const prefix = options.tablePrefix ?? '';
  const parts: Parts = { functions: [], pollers: [], deadLetters: [] };
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopParts(parts));

  try {
    const dynamodb = options.dynamodb ?? {};
    if (!('endpoint' in dynamodb)) parts.database = await startDynamoDbLocal({ port: dynamodb.port });
    const dynamodbEndpoint = 'endpoint' in dynamodb ? dynamodb.endpoint : parts.database!.endpoint;

    const tableNames: Record<string, string> = { [MEMBERSHIP_TABLE_LABEL]: `${prefix}rohrpost-membership` };
    for (const label of Object.keys(config.tables)) tableNames[label] = `${prefix}${label}`;
    const notifying = notifyingTableLabels(config);
    const membershipTable = {
      tableName: tableNames[MEMBERSHIP_TABLE_LABEL]!,
      definition: membershipTableDefinition,
    };
    const historyTable = keepsHistory(config) ? `${prefix}rohrpost-history` : undefined;
    await createTables(dynamodbEndpoint, [
      { ...membershipTable, stream: false },
      ...(historyTable
        ? [{ tableName: historyTable, definition: historyTableDefinition, stream: false }]
        : []),
      ...Object.entries(config.tables).map(([label, definition]) => ({
        tableName: tableNames[label]!,
        definition,
        stream: notifying.includes(label),
      })),
    ]);

    if (options.page) parts.page = await PageServer.start(options.page, { watch: options.watch ?? false });
    const deadLetterQueue = new LocalDeadLetterQueue((letter) => {
      parts.deadLetters.push(letter);
      reporter.deadLettered(letter);
    });
    const localIssuer =
      config.authorizer?.jwt && (await LocalIssuer.load(projectRoot, config.authorizer.jwt));
    const gateway = new Gateway({
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 3001,
      stage: options.stage ?? 'local',
      apiId: 'sandbox',
      region: LOCAL_REGION,
      limits: { ...ApiGatewayLimits, ...options.limits },
      reporter,
      services: localIssuer ? [deadLetterQueue, metrics, localIssuer] : [deadLetterQueue, metrics],
      page: parts.page,
    });
    parts.gateway = gateway;
    await gateway.listen();

    const buildDirectory = createBuildDirectory(projectRoot);
    parts.buildDirectory = buildDirectory;
    const environmentWith = (labels: string[], jwt: JwtSettings | undefined) =>
      functionEnvironment({
        managementEndpoint: gateway.managementEndpoint,
        membershipTable: membershipTable.tableName,
        tableNames: Object.fromEntries(labels.map((label) => [label, tableNames[label]!])),
        history: historyTable === undefined ? undefined : historySettings(config, historyTable),
        deadLetterQueueUrl: LocalDeadLetterQueue.url(gateway.origin),
        jwt,
      });
    const startFunction = async (name: string, fn: ResolvedFunction, labels: string[], jwt?: JwtSettings) => {
      const started = await LocalFunction.start({
        name,
        entry: resolve(projectRoot, fn.entry),
        handler: fn.handler,
        memorySize: fn.memorySize,
        timeoutMs: fn.timeoutSeconds * 1000,
        reservedConcurrency: fn.reservedConcurrency,
        environment: {
          ...localLambdaEnvironment({
            functionName: name,
            memorySize: fn.memorySize,
            dynamodbEndpoint,
            sqsEndpoint: gateway.origin,
          }),
          ...environmentWith(labels, jwt),
        },
        buildDirectory,
        watch: options.watch ?? false,
        reporter: functionReporter,
      });
      parts.functions.push(started);
      return started;
    };
    const websocket = await startFunction('websocket', config.websocket, handlerTableLabels(config));
    // There is no Cognito locally: the authorizer trusts the sandbox's own issuer instead.
    const authorizer =
      config.authorizer &&
      (await startFunction('authorizer', config.authorizer, [], localIssuer?.settingsAt(gateway.origin)));
    gateway.attach({
      websocket,
      authorizer: authorizer && { function: authorizer, identitySource: config.authorizer.identitySource },
    });

    if (notifying.length > 0) {
      const notifications = await startFunction('notifications', config.notifications, notifying);
      for (const label of notifying) {
        parts.pollers.push(
          await StreamPoller.start({
            endpoint: dynamodbEndpoint,
            tableName: tableNames[label]!,
            function: notifications,
            batchSize: config.notifications.batchSize,
            retryAttempts: config.notifications.retryAttempts,
            reporter,
          }),
        );
      }
    }

    return {
      websocketUrl: `ws://localhost:${gateway.port}`,
      pageUrl: parts.page && `http://localhost:${gateway.port}/`,
      managementEndpoint: gateway.managementEndpoint,
      dynamodbEndpoint,
      tableNames,
      historyTable,
      gateway,
      localIssuer,
      metrics,
      get deadLetters() {
        return [...parts.pollers.flatMap((poller) => poller.deadLetters), ...parts.deadLetters];
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
