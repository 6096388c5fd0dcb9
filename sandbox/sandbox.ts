import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type {
  DeadLetter,
  DeploymentPlan,
  FunctionRole,
  PlannedFunction,
  PlannedQueueSource,
  PlannedStreamSource,
  ResolvedConfig,
} from '../lambdas/rohrpost/deploy';
import { ApiGatewayLimits, deploymentPlan, environmentOf, readDeadLetter } from '../lambdas/rohrpost/deploy';
import { localLambdaEnvironment, localSignatureVerifier, LOCAL_ACCOUNT_ID, LOCAL_REGION } from './aws-local';
import type { DynamoDbLocal } from './dynamodb-local';
import { startDynamoDbLocal } from './dynamodb-local';
import type { GatewayLimits, GatewayReporter } from './gateway';
import { Gateway } from './gateway';
import { assemblyFunctions } from './lambda/assembly';
import type { FunctionCode } from './lambda/function-code';
import { assetCode, bundledCode } from './lambda/function-code';
import { LambdaApi } from './lambda/lambda-api';
import type { FunctionReporter } from './lambda/local-function';
import { LocalFunction } from './lambda/local-function';
import { createWorkDirectory } from './lambda/work-directory';
import { LocalIssuer } from './local-issuer';
import { MetricsSummary } from './metrics-summary';
import { PageServer } from './page-server';
import { LocalQueue } from './sqs/local-queue';
import { SqsApi } from './sqs/sqs-api';
import type { QueueReporter } from './sqs/sqs-poller';
import { SqsPoller } from './sqs/sqs-poller';
import { planChanges } from './plan-changes';
import type { RequestRate } from './request-quota';
import type { StreamReporter } from './streams/stream-batches';
import { StreamBatches } from './streams/stream-batches';
import { StreamPoller } from './streams/stream-poller';
import { createTables } from './tables';

/** Everything the sandbox reports; the CLI prints it, tests usually ignore it. */
export interface SandboxReporter extends GatewayReporter, FunctionReporter, StreamReporter, QueueReporter {
  /** A message reached the dead-letter queue: a record the function set aside, or Lambda's on-failure record. */
  deadLettered(letter: DeadLetter): void;
}

/** A synthesized stack whose functions the sandbox runs instead of bundling their entries. */
export interface SynthesizedStack {
  /** The cloud assembly, `cdk synth`'s output folder (`cdk.out`). */
  readonly directory: string;
  /** The stack's name in it. */
  readonly stack: string;
}

export interface SandboxOptions {
  /** The configuration to run, usually the project's rohrpost.config.ts. */
  readonly config: ResolvedConfig;
  /** The folder that function entries are relative to. @default the project this file is in */
  readonly projectRoot?: string;
  /**
   * Run the functions of this synthesized stack (their assets, exactly as `cdk deploy` uploads
   * them) instead of bundling their entries. It must be synthesized from `config`.
   * @default each function's entry, bundled as `cdk synth` bundles it, rebuilt on save with `watch`
   */
  readonly assembly?: SynthesizedStack;
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
  /** The account's request quota on the management API. @default 10,000 a second, bursts of 5,000 */
  readonly postRate?: RequestRate;
  /**
   * The management API the functions post to, instead of the gateway's: a bench's emulated API
   * (bench:large-group), which answers for members that hold no WebSocket. @default the gateway's
   */
  readonly managementEndpoint?: string;
  /** How long a function instance may be idle before it is shut down, as Lambda does. @default 10 minutes */
  readonly functionIdleTimeoutMs?: number;
  /** A folder with `index.html` and `app.ts`, served as a page at the root URL. @default no page */
  readonly page?: string;
  /** @default reports nothing */
  readonly reporter?: SandboxReporter;
}

/** What a running sandbox made of a changed configuration. */
export interface ConfigChange {
  /** What it took on, in words: tables created, functions told. */
  readonly applied: readonly string[];
  /** What only a restart applies, in words; when there is any, nothing was taken on. */
  readonly needRestart: readonly string[];
}

export interface Sandbox {
  /** What the configuration deploys, which the sandbox runs. */
  readonly plan: DeploymentPlan;
  /** Where WebSocket clients connect, e.g. `ws://localhost:3001`. */
  readonly websocketUrl: string;
  /** Where the page is, when there is one: `http://localhost:3001/`. */
  readonly pageUrl: string | undefined;
  /** The management API endpoint for @aws-sdk/client-apigatewaymanagementapi. */
  readonly managementEndpoint: string;
  readonly dynamodbEndpoint: string;
  /** Table names by their plan id: the application tables' labels, `membership` and `history`. */
  readonly tableNames: Readonly<Record<string, string>>;
  /** The groups' history table; `undefined` when no group keeps a history. */
  readonly historyTable: string | undefined;
  /** The queues by their plan id, served to the SDK's SQS client at their URLs. */
  readonly queues: ReadonlyMap<string, LocalQueue>;
  readonly gateway: Gateway;
  /** What the functions' metrics add up to, as CloudWatch would show them; also at GET /.sandbox/metrics. */
  readonly metrics: MetricsSummary;
  /** The identity provider standing in for the configured one, when `authorizer.jwt` is set. */
  readonly localIssuer: LocalIssuer | undefined;
  /** What the dead-letter queue holds now, read. */
  readonly deadLetters: readonly DeadLetter[];
  /** The running functions, by role. */
  readonly functions: ReadonlyMap<FunctionRole, LocalFunction>;
  /**
   * Takes on a changed configuration, as far as a running sandbox can and as a deployment would
   * apply it: new tables are created with their streams and read from their first change, and
   * the functions are told their new environment. The stream of a new table is read once the
   * function it feeds runs code newer than `changedAt` (the configuration is bundled into it).
   */
  applyConfig(config: ResolvedConfig, changedAt: number): Promise<ConfigChange>;
  /** Stops everything the sandbox started, DynamoDB Local included. */
  stop(): Promise<void>;
}

/** A reporter that reports nothing: the default, and a base for one that reports a few things. */
export const silentReporter: SandboxReporter = {
  connected: () => undefined,
  refused: () => undefined,
  disconnected: () => undefined,
  frame: () => undefined,
  invoked: () => undefined,
  failed: () => undefined,
  output: () => undefined,
  reloaded: () => undefined,
  coldStart: () => undefined,
  reaped: () => undefined,
  functionFailed: () => undefined,
  streamDelivered: () => undefined,
  streamRetrying: () => undefined,
  deadLettered: () => undefined,
  streamFailed: () => undefined,
  queueDelivered: () => undefined,
  queueItemsFailed: () => undefined,
  queueBatchFailed: () => undefined,
  queueDeadLettered: () => undefined,
};

/** What a sandbox has started, so far: each part is stopped in `stopParts`'s order. */
interface Parts {
  database?: DynamoDbLocal;
  gateway?: Gateway;
  workDirectory?: string;
  functions: LocalFunction[];
  pollers: StreamPoller[];
  queuePollers: SqsPoller[];
  queues: LocalQueue[];
  page?: PageServer;
}

/**
 * Stops what was started: the stream pollers first, so that no batch is cut off; then the
 * gateway, whose closing connections still reach `$disconnect` in the running functions;
 * then the functions, their code and DynamoDB Local.
 */
async function stopParts(parts: Parts): Promise<void> {
  const steps: Array<() => unknown> = [
    ...parts.pollers.map((poller) => () => poller.stop()),
    ...parts.queuePollers.map((poller) => () => poller.stop()),
    ...parts.queues.map((queue) => () => queue.stop()),
    () => parts.gateway?.stop(),
    () => parts.page?.stop(),
    ...parts.functions.map((fn) => () => fn.stop()),
    () => parts.workDirectory && rmSync(parts.workDirectory, { recursive: true, force: true }),
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
 * Starts the local stand-in for the deployed stack, from the configuration's deployment plan
 * (the one the CDK construct deploys): DynamoDB Local with the planned tables and streams, the
 * planned queues, the functions in worker threads running the bundles `cdk synth` makes (from
 * outside the project, with the planned environment), the gateway with the planned routes and
 * authorizer, and the planned stream event sources. If any part fails to start, the parts
 * already started are stopped before the error is thrown.
 */
export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const { config } = options;
  let plan = deploymentPlan(config);
  const projectRoot = options.projectRoot ?? resolve(__dirname, '..');
  const reporter = options.reporter ?? silentReporter;
  const metrics = new MetricsSummary();
  // The functions' metric lines go to the summary (one per message would drown the log), the rest to the log.
  const functionReporter: FunctionReporter = {
    ...reporter,
    output: (name, line, stream) => {
      if (!metrics.observe(line)) reporter.output(name, line, stream);
    },
  };
  const prefix = options.tablePrefix ?? '';
  const parts: Parts = { functions: [], pollers: [], queuePollers: [], queues: [] };
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopParts(parts));
  const isStopping = () => stopping !== undefined;

  try {
    const dynamodb = options.dynamodb ?? {};
    if (!('endpoint' in dynamodb)) parts.database = await startDynamoDbLocal({ port: dynamodb.port });
    const dynamodbEndpoint = 'endpoint' in dynamodb ? dynamodb.endpoint : parts.database!.endpoint;

    const tableNames = Object.fromEntries(
      plan.tables.map((table) => [table.id, `${prefix}${table.localName}`]),
    );
    const created = await createTables(
      dynamodbEndpoint,
      plan.tables.map((table) => ({
        tableName: tableNames[table.id]!,
        definition: table.definition,
        stream: table.stream,
      })),
    );

    if (options.page) parts.page = await PageServer.start(options.page, { watch: options.watch ?? false });
    const localIssuer =
      config.authorizer?.jwt && (await LocalIssuer.load(projectRoot, config.authorizer.jwt));
    const sqs = new SqsApi(localSignatureVerifier('sqs'));
    const functions = new Map<FunctionRole, LocalFunction>();
    const lambda = new LambdaApi(functions, localSignatureVerifier('lambda'));
    const gateway = new Gateway({
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 3001,
      stage: options.stage ?? 'local',
      apiId: 'sandbox',
      region: LOCAL_REGION,
      limits: { ...ApiGatewayLimits, ...options.limits },
      reporter,
      services: localIssuer ? [sqs, lambda, metrics, localIssuer] : [sqs, lambda, metrics],
      page: parts.page,
      postRate: options.postRate,
    });
    parts.gateway = gateway;
    await gateway.listen();

    const queues = new Map<string, LocalQueue>();
    // A queue's dead-letter queue comes before it in the plan.
    for (const planned of plan.queues) {
      const queue = new LocalQueue({
        name: planned.localName,
        url: `${gateway.origin}/${LOCAL_ACCOUNT_ID}/${planned.localName}`,
        retentionSeconds: planned.retentionSeconds,
        ...(planned.visibilityTimeoutSeconds !== undefined && {
          visibilityTimeoutSeconds: planned.visibilityTimeoutSeconds,
        }),
        ...(planned.deadLetter && {
          deadLetter: {
            queue: queues.get(planned.deadLetter.queue)!,
            maxReceiveCount: planned.deadLetter.maxReceiveCount,
          },
        }),
        onSend: (message) => {
          const letter = planned.id === 'dead-letters' ? readDeadLetter(message.body) : undefined;
          if (letter) reporter.deadLettered(letter);
        },
        onDeadLetter: (message, to) =>
          reporter.queueDeadLettered(planned.localName, message.messageId, to.name),
      });
      queues.set(planned.id, queue);
      parts.queues.push(queue);
      sqs.add(queue);
    }

    const workDirectory = createWorkDirectory();
    parts.workDirectory = workDirectory;
    const synthesized =
      options.assembly && assemblyFunctions(options.assembly.directory, options.assembly.stack);
    const codeOf = (planned: PlannedFunction): { code: FunctionCode; handler: string } => {
      const root = join(workDirectory, planned.role);
      if (!synthesized) {
        return {
          code: bundledCode(resolve(projectRoot, planned.entry), root, options.watch ?? false),
          handler: `index.${planned.handler}`,
        };
      }
      const asset = synthesized.find((fn) => fn.constructId === planned.constructId);
      if (!asset) throw new Error(`The synthesized stack has no ${planned.constructId} function.`);
      return { code: assetCode(asset.asset, root), handler: asset.handler };
    };
    const environmentFor = (planned: PlannedFunction) => {
      // There is no Cognito locally: the authorizer trusts the sandbox's own issuer instead.
      const told =
        planned.environment.jwt && localIssuer
          ? {
              ...planned,
              environment: { ...planned.environment, jwt: localIssuer.settingsAt(gateway.origin) },
            }
          : planned;
      return {
        ...localLambdaEnvironment({
          functionName: planned.role,
          memorySize: planned.memorySize,
          dynamodbEndpoint,
          sqsEndpoint: gateway.origin,
        }),
        ...environmentOf(told, {
          managementEndpoint: options.managementEndpoint ?? gateway.managementEndpoint,
          tableName: (id) => tableNames[id]!,
          queueUrl: (id) => queues.get(id)!.url,
          metricsNamespace: 'rohrpost/sandbox',
        }),
      };
    };
    for (const planned of plan.functions) {
      const started = await LocalFunction.start({
        name: planned.role,
        ...codeOf(planned),
        memorySize: planned.memorySize,
        timeoutMs: planned.timeoutSeconds * 1000,
        reservedConcurrency: planned.reservedConcurrency,
        // A queue's event source runs as many invocations at once as its maximum concurrency.
        maxInstances: plan.queueSources.find((source) => source.function === planned.role)
          ?.maximumConcurrency,
        idleTimeoutMs: options.functionIdleTimeoutMs,
        environment: environmentFor(planned),
        workDirectory,
        reporter: functionReporter,
      });
      parts.functions.push(started);
      functions.set(planned.role, started);
    }

    const routeFunction = (role: FunctionRole) => functions.get(role)!;
    gateway.attach({
      websocket: routeFunction(plan.routes.find((route) => route.key === '$default')!.function),
      authorizer: plan.authorizer && {
        function: routeFunction(plan.authorizer.function),
        identitySource: plan.authorizer.identitySource,
      },
    });

    const startStream = async (source: PlannedStreamSource, createdNow: boolean) => {
      const tableName = tableNames[source.table]!;
      parts.pollers.push(
        await StreamPoller.start({
          endpoint: dynamodbEndpoint,
          tableName,
          // Changes written since the sandbox created the table are read, however soon.
          startingPosition: createdNow ? 'TRIM_HORIZON' : source.startingPosition,
          batchSize: source.batchSize,
          reporter,
          batches: (streamArn) =>
            streamBatches(source, {
              table: tableName,
              streamArn,
              function: routeFunction(source.function),
              queue: queues.get(source.onFailure)!,
              reporter,
              stopped: isStopping,
            }),
        }),
      );
    };
    for (const source of plan.streamSources)
      await startStream(source, created.has(tableNames[source.table]!));
    for (const source of plan.queueSources)
      parts.queuePollers.push(queuePoller(source, queues, routeFunction, reporter));

    const applyConfig = async (next: ResolvedConfig, changedAt: number): Promise<ConfigChange> => {
      const nextPlan = deploymentPlan(next);
      const changes = planChanges(plan, nextPlan);
      if (changes.needRestart.length > 0) return { applied: [], needRestart: changes.needRestart };
      const applied: string[] = [];
      for (const table of changes.newTables) tableNames[table.id] = `${prefix}${table.localName}`;
      await createTables(
        dynamodbEndpoint,
        changes.newTables.map((table) => ({
          tableName: tableNames[table.id]!,
          definition: table.definition,
          stream: table.stream,
        })),
      );
      for (const table of changes.newTables) {
        applied.push(`created table ${tableNames[table.id]}${table.stream ? ' with its stream' : ''}`);
      }
      plan = nextPlan;
      for (const planned of changes.changedEnvironments) {
        functions.get(planned.role)!.updateEnvironment(environmentFor(planned));
        applied.push(`told the ${planned.role} function its new environment`);
      }
      for (const source of changes.newStreamSources) {
        const reloaded = await routeFunction(source.function).codeNewerThan(changedAt, 60_000);
        await startStream(source, true);
        applied.push(
          `reading the stream of ${tableNames[source.table]}` +
            (reloaded
              ? ''
              : ` (the ${source.function} function did not reload with the change within a minute)`),
        );
      }
      return { applied, needRestart: [] };
    };

    return {
      get plan() {
        return plan;
      },
      websocketUrl: `ws://localhost:${gateway.port}`,
      pageUrl: parts.page && `http://localhost:${gateway.port}/`,
      managementEndpoint: gateway.managementEndpoint,
      dynamodbEndpoint,
      tableNames,
      historyTable: tableNames.history,
      queues,
      gateway,
      localIssuer,
      metrics,
      functions,
      get deadLetters() {
        const queue = queues.get('dead-letters');
        return (queue?.messages ?? []).flatMap((message) => readDeadLetter(message.body) ?? []);
      },
      applyConfig,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The event source mapping of one planned queue, as Lambda's SQS poller runs it. */
function queuePoller(
  source: PlannedQueueSource,
  queues: ReadonlyMap<string, LocalQueue>,
  functionOf: (role: FunctionRole) => LocalFunction,
  reporter: QueueReporter,
): SqsPoller {
  return SqsPoller.start({
    queue: queues.get(source.queue)!,
    function: functionOf(source.function),
    settings: source,
    reporter,
  });
}

/** The event source mapping of one planned stream, sending its on-failure records to the planned queue. */
function streamBatches(
  source: PlannedStreamSource,
  options: {
    table: string;
    streamArn: string;
    function: LocalFunction;
    queue: LocalQueue;
    reporter: StreamReporter;
    stopped: () => boolean;
  },
): StreamBatches {
  return new StreamBatches({
    table: options.table,
    streamArn: options.streamArn,
    functionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${source.function}`,
    function: options.function,
    settings: source,
    onFailure: (body) => options.queue.send(body),
    reporter: options.reporter,
    stopped: options.stopped,
  });
}
