import { resolve } from 'node:path';
import { Annotations, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { WebSocketApi } from 'aws-cdk-lib/aws-apigatewayv2';
import type { WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { Alarm, Dashboard } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { BillingMode, StreamViewType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IEventSourceDlq } from 'aws-cdk-lib/aws-lambda';
import { Architecture, Function as LambdaFunction, Runtime, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DeduplicationScope, FifoThroughputLimit, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type {
  DeploymentPlan,
  FunctionRole,
  PlannedFunction,
  PlannedQueue,
  PlannedTable,
  ResolvedConfig,
} from '../lambdas/rohrpost/deploy';
import { deploymentPlan, deploymentProblems, environmentOf } from '../lambdas/rohrpost/deploy';
import { bundledFunctionCode } from './function-bundle';
import type { MonitoringProps } from './monitoring';
import { Monitoring } from './monitoring';
import { connectionsArn, grantPlanned } from './permissions';
import { createStage } from './stage';
import { indexProps, tableShape } from './table-props';

export interface RohrpostWebSocketProps extends MonitoringProps {
  /** The project's configuration: functions, tables and notification rules (rohrpost.config.ts). */
  readonly config: ResolvedConfig;
  /** The folder the configuration's function entries are relative to. @default the current working directory */
  readonly projectRoot?: string;
  /** The API Gateway stage. @default 'prod' */
  readonly stageName?: string;
  /** Steady-state requests per second the stage accepts. @default 1000 */
  readonly throttlingRateLimit?: number;
  /** Requests the stage accepts in a burst. @default 500 */
  readonly throttlingBurstLimit?: number;
  /** How long the functions' logs and the access logs are kept. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** Refuse to delete the membership table. Its items live hours at most, so this guards against accidents only. @default false */
  readonly membershipDeletionProtection?: boolean;
  /** What happens to the application tables this construct creates when it is removed. @default RemovalPolicy.RETAIN */
  readonly tableRemovalPolicy?: RemovalPolicy;
  /**
   * Write the stage's JSON access logs. API Gateway writes them through the account's logging
   * role (one per account and region), which must be set already, or by `setApiGatewayAccountRole`.
   * @default the value of setApiGatewayAccountRole
   */
  readonly accessLogs?: boolean;
  /**
   * Set API Gateway's CloudWatch Logs role for the whole account and region (an
   * `AWS::ApiGateway::Account`). It replaces any role the account points to, and `cdk destroy`
   * deletes the role while the account still points to it: turn it on only where no other stack
   * or person sets that role. @default false
   */
  readonly setApiGatewayAccountRole?: boolean;
  /** The functions' CPU architecture. @default Architecture.ARM_64 */
  readonly architecture?: Architecture;
}

/** The runtime of every function: the newest Node.js Lambda runs (the bundler targets it too). */
const FUNCTION_RUNTIME = Runtime.NODEJS_24_X;

/**
 * rohrpost on API Gateway, Lambda and DynamoDB, built from the configuration's deployment plan
 * (lambdas/rohrpost/deploy/plan.ts), which the local sandbox runs too: a WebSocket API whose
 * `$connect`, `$disconnect` and `$default` routes run the websocket function (replies as route
 * responses), a membership table, and a notification function fed by the streams of the
 * configured tables, with the groups' history table, a dead-letter queue and alarms. Every
 * permission is the plan's, scoped to the resources it names.
 */
export class RohrpostWebSocket extends Construct {
  /** What the configuration deploys; this construct's resources are built from it. */
  readonly plan: DeploymentPlan;
  readonly api: WebSocketApi;
  readonly stage: WebSocketStage;
  readonly membershipTable: Table;
  /** Each group's recent messages, for recovery; `undefined` when no group keeps a history. */
  readonly historyTable: Table | undefined;
  /** The application tables, by label. */
  readonly tables: Readonly<Record<string, ITable>>;
  readonly websocketFunction: LambdaFunction;
  readonly notificationFunction: LambdaFunction | undefined;
  readonly authorizerFunction: LambdaFunction | undefined;
  /** The lane worker, which posts big groups' messages; `undefined` without lanes. */
  readonly laneFunction: LambdaFunction | undefined;
  readonly deadLetterQueue: Queue | undefined;
  /** The lanes' FIFO queue; `undefined` without lanes. */
  readonly laneQueue: Queue | undefined;
  /** The dashboard; `undefined` when the `dashboard` prop turns it off. */
  readonly dashboard: Dashboard | undefined;

  private readonly props: RohrpostWebSocketProps;
  private readonly monitoring: Monitoring;
  private readonly tablesById = new Map<string, { table: ITable; planned: PlannedTable }>();
  private readonly queues = new Map<PlannedQueue['id'], Queue>();
  private readonly functions = new Map<FunctionRole, LambdaFunction>();

  constructor(scope: Construct, id: string, props: RohrpostWebSocketProps) {
    super(scope, id);
    this.props = props;
    this.plan = deploymentPlan(props.config);
    // `cdk synth` and `cdk deploy` stop on these, with the message; the sandbox runs the plan regardless.
    for (const problem of deploymentProblems(this.plan)) Annotations.of(this).addError(problem);
    this.monitoring = new Monitoring(this, props);

    for (const planned of this.plan.tables) {
      this.tablesById.set(planned.id, { table: this.createTable(planned), planned });
    }
    this.membershipTable = this.tablesById.get('membership')!.table as Table;
    this.historyTable = this.tablesById.get('history')?.table as Table | undefined;
    this.tables = Object.fromEntries(
      this.plan.tables
        .filter((planned) => planned.kind === 'application')
        .map((planned) => [planned.id, this.tablesById.get(planned.id)!.table]),
    );
    for (const planned of this.plan.queues) this.queues.set(planned.id, this.createQueue(planned));
    this.deadLetterQueue = this.queues.get('dead-letters');
    this.laneQueue = this.queues.get('lanes');

    this.api = new WebSocketApi(this, 'Api', { description: 'rohrpost: request/reply and live updates' });
    const setAccountRole = props.setApiGatewayAccountRole ?? false;
    this.stage = createStage(this, this.api, {
      stageName: props.stageName ?? 'prod',
      rateLimit: props.throttlingRateLimit ?? 1000,
      burstLimit: props.throttlingBurstLimit ?? 500,
      logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
      accessLogs: props.accessLogs ?? setAccountRole,
      setAccountRole,
    });

    for (const planned of this.plan.functions) this.functions.set(planned.role, this.createFunction(planned));
    this.websocketFunction = this.functions.get('websocket')!;
    this.notificationFunction = this.functions.get('notifications');
    this.authorizerFunction = this.functions.get('authorizer');
    this.laneFunction = this.functions.get('lanes');
    this.addRoutes();
    this.addStreamSources();
    this.addQueueSources();
    this.watch();
    this.dashboard = this.monitoring.createDashboard({
      api: this.api,
      stage: this.stage,
      functions: [...this.functions.values()],
      notifications: this.notificationFunction !== undefined,
      authorizer: this.authorizerFunction !== undefined,
      lanes: this.laneFunction !== undefined,
    });
  }

  /** Every alarm, for an alarm action or a composite alarm of your own. */
  get alarms(): readonly Alarm[] {
    return this.monitoring.alarms;
  }

  /** The CloudWatch namespace of the functions' metrics. */
  get metricsNamespace(): string {
    return this.monitoring.namespace;
  }

  /** The wss:// URL clients connect to. */
  get url(): string {
    return this.stage.url;
  }

  /** The management API endpoint (https://) that PostToConnection is sent to. */
  get managementEndpoint(): string {
    return this.stage.callbackUrl;
  }

  private createTable(planned: PlannedTable): ITable {
    if (planned.existing) {
      return Table.fromTableAttributes(this, planned.constructId, {
        tableName: planned.existing.tableName,
        ...(planned.existing.streamArn && { tableStreamArn: planned.existing.streamArn }),
      });
    }
    const table = new Table(this, planned.constructId, {
      ...tableShape(planned.definition),
      billingMode: BillingMode.PAY_PER_REQUEST,
      ...(planned.stream && { stream: StreamViewType.NEW_AND_OLD_IMAGES }),
      ...tableKeeping(planned, this.props),
    });
    for (const index of indexProps(planned.definition)) table.addGlobalSecondaryIndex(index);
    if (planned.kind !== 'application') {
      Validations.of(table).acknowledge({
        id: 'AwsSolutions-DDB3',
        reason:
          planned.kind === 'membership'
            ? 'Memberships last a connection (2 hours at most) and clients rebuild them on reconnect; ' +
              'a point-in-time restore would bring back connections that no longer exist.'
            : 'The history keeps messages for an hour or so, for clients that reconnect. Losing it is ' +
              'safe: groups start a new epoch and clients refetch, which a restore could not improve.',
      });
    }
    return table;
  }

  /**
   * A planned queue: the stream records' dead letters, the lanes' FIFO queue (high-throughput
   * FIFO: deduplication and throughput per message group, one per lane) and its dead letters.
   */
  private createQueue(planned: PlannedQueue): Queue {
    const queue = new Queue(this, planned.constructId, {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.seconds(planned.retentionSeconds),
      ...(planned.fifo && {
        fifo: true,
        deduplicationScope: DeduplicationScope.MESSAGE_GROUP,
        fifoThroughputLimit: FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      }),
      ...(planned.visibilityTimeoutSeconds !== undefined && {
        visibilityTimeout: Duration.seconds(planned.visibilityTimeoutSeconds),
      }),
      ...(planned.deadLetter && {
        deadLetterQueue: {
          queue: this.queues.get(planned.deadLetter.queue)!,
          maxReceiveCount: planned.deadLetter.maxReceiveCount,
        },
      }),
    });
    if (!planned.deadLetter) {
      Validations.of(queue).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason:
          planned.id === 'dead-letters'
            ? 'This queue is the dead-letter destination of the stream event source mappings; its messages ' +
              'describe failed stream batches, to inspect and replay, so it has no dead-letter queue of its own.'
            : "This queue is the lanes' dead-letter queue: it holds lane jobs that failed every receive, to " +
              'inspect, so it has no dead-letter queue of its own.',
      });
    }
    return queue;
  }

  /**
   * A planned function: bundled by the local esbuild, told its environment, allowed what the plan
   * allows and nothing more. Its role may write its own log group; the rest is the plan's.
   */
  private createFunction(planned: PlannedFunction): LambdaFunction {
    const logGroup = new LogGroup(this, `${planned.constructId}Logs`, {
      retention: this.props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new Role(this, `${planned.constructId}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    });
    logGroup.grantWrite(role);
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(logGroup.node.defaultChild as never)}.Arn>:*]`,
      reason:
        'Lambda creates its log streams at run time, so their names are only known as a prefix of the log group.',
    });
    const projectRoot = this.props.projectRoot ?? process.cwd();
    const fn = new LambdaFunction(this, planned.constructId, {
      code: bundledFunctionCode(projectRoot, resolve(projectRoot, planned.entry)),
      handler: `index.${planned.handler}`,
      description: planned.description,
      runtime: FUNCTION_RUNTIME,
      architecture: this.props.architecture ?? Architecture.ARM_64,
      memorySize: planned.memorySize,
      timeout: Duration.seconds(planned.timeoutSeconds),
      reservedConcurrentExecutions: planned.reservedConcurrency,
      role,
      logGroup,
      environment: environmentOf(planned, {
        managementEndpoint: this.stage.callbackUrl,
        tableName: (id) => this.tablesById.get(id)!.table.tableName,
        queueUrl: (id) => this.queues.get(id)!.queueUrl,
        metricsNamespace: this.monitoring.namespace,
      }),
    });
    for (const permission of planned.permissions) {
      grantPlanned(fn, permission, {
        table: (id) => this.tablesById.get(id)!,
        queue: (id) => this.queues.get(id)!,
        connectionsArn: (method) => connectionsArn(this.api.apiId, this.stage.stageName, method),
      });
    }
    return fn;
  }

  /** The planned routes, `$connect` behind the authorizer when there is one. */
  private addRoutes(): void {
    const { authorizer } = this.plan;
    const integrations = new Map<FunctionRole, WebSocketLambdaIntegration>();
    const integrationOf = (role: FunctionRole) => {
      let integration = integrations.get(role);
      if (!integration) {
        integration = new WebSocketLambdaIntegration(
          integrations.size === 0 ? 'Handler' : role,
          this.functions.get(role)!,
        );
        integrations.set(role, integration);
      }
      return integration;
    };
    for (const route of this.plan.routes) {
      // API Gateway caches no authorizer results for WebSocket APIs: each $connect runs it. The
      // JWT check keeps the issuer's keys for the instance's life, so it costs no request.
      const routeAuthorizer =
        route.authorized && authorizer
          ? new WebSocketLambdaAuthorizer('Authorizer', this.functions.get(authorizer.function)!, {
              identitySource: [...authorizer.identitySource],
            })
          : undefined;
      this.api.addRoute(route.key, {
        integration: integrationOf(route.function),
        ...(routeAuthorizer && { authorizer: routeAuthorizer }),
        ...(route.returnResponse && { returnResponse: true }),
      });
      if (!route.authorized) {
        Validations.of(this.api.node.findChild(`${route.key}-Route`)).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason:
            route.key === '$connect'
              ? 'No authorizer is configured: clients authenticate per subscription (subscribe checks auth_jwt and ' +
                'refuses by default). Add `authorizer` to rohrpost.config.ts to authenticate connections.'
              : 'API Gateway WebSocket APIs authorize on $connect only; later messages carry its identity.',
        });
      }
    }
  }

  /** The planned stream event source mappings, with Lambda's settings as the plan gives them. */
  private addStreamSources(): void {
    for (const source of this.plan.streamSources) {
      const fn = this.functions.get(source.function)!;
      fn.addEventSource(
        new DynamoEventSource(this.tablesById.get(source.table)!.table, {
          startingPosition: StartingPosition[source.startingPosition],
          batchSize: source.batchSize,
          bisectBatchOnError: source.bisectBatchOnFunctionError,
          reportBatchItemFailures: source.reportBatchItemFailures,
          retryAttempts: source.maximumRetryAttempts,
          maxRecordAge: Duration.seconds(source.maximumRecordAgeSeconds),
          onFailure: onFailureDestination(this.queues.get(source.onFailure)!),
        }),
      );
      Validations.of(fn.role!).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'dynamodb:ListStreams, which the stream event source mapping needs, has no resource-level ' +
          'permissions; reading records is limited to the configured streams.',
      });
    }
  }

  /** The planned queue event source mappings: the lanes' queue feeding the lane worker. */
  private addQueueSources(): void {
    for (const source of this.plan.queueSources) {
      // The event source grants the function what reading the queue takes (the plan's `consume-queue`).
      this.functions.get(source.function)!.addEventSource(
        new SqsEventSource(this.queues.get(source.queue)!, {
          batchSize: source.batchSize,
          maxConcurrency: source.maximumConcurrency,
          reportBatchItemFailures: source.reportBatchItemFailures,
        }),
      );
    }
  }

  /** Alarms on every function, on the handlers, and on the notifications and their dead letters. */
  private watch(): void {
    for (const planned of this.plan.functions) {
      const fn = this.functions.get(planned.role)!;
      // Every refused token is a Lambda error of the authorizer, by API Gateway's contract.
      this.monitoring.watchFunction(planned.constructId, fn, { errors: planned.role !== 'authorizer' });
      if (planned.role === 'authorizer') this.monitoring.watchAuthorizer(fn);
    }
    this.monitoring.watchHandlers();
    if (this.deadLetterQueue) this.monitoring.watchDeadLetters(this.deadLetterQueue);
    const laneDeadLetters = this.queues.get('lane-dead-letters');
    if (this.laneQueue && laneDeadLetters) this.monitoring.watchLanes(this.laneQueue, laneDeadLetters);
    const notifications = this.plan.streamSources[0];
    if (this.notificationFunction && notifications) {
      this.monitoring.watchNotifications(this.notificationFunction, notifications.maximumRecordAgeSeconds);
    }
  }
}

/** How a table is kept: the application's are retained and backed up; rohrpost's own are replaceable. */
function tableKeeping(planned: PlannedTable, props: RohrpostWebSocketProps) {
  switch (planned.kind) {
    case 'membership':
      return {
        removalPolicy: RemovalPolicy.DESTROY,
        deletionProtection: props.membershipDeletionProtection ?? false,
      };
    case 'history':
      return { removalPolicy: RemovalPolicy.DESTROY };
    case 'application':
      return {
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        removalPolicy: props.tableRemovalPolicy ?? RemovalPolicy.RETAIN,
      };
  }
}

/**
 * The queue as an event source mapping's on-failure destination. Lambda sends to it with the
 * function's role, which the plan already allows `sqs:SendMessage` on that queue and nothing
 * else (CDK's SqsDlq would add GetQueueAttributes and GetQueueUrl, which nothing uses).
 */
function onFailureDestination(queue: Queue): IEventSourceDlq {
  return { bind: () => ({ destination: queue.queueArn }) };
}
