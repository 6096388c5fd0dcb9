import { resolve } from 'node:path';
import { Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { LogGroupLogDestination, WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { Alarm, Dashboard } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { BillingMode, StreamViewType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { ManagedPolicy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Function as LambdaFunction, Runtime, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type {
  ApplicationTableConfig,
  HistorySettings,
  JwtSettings,
  ResolvedConfig,
  ResolvedFunction,
} from '../lambdas/rohrpost';
import {
  functionEnvironment,
  handlerTableLabels,
  historySettings,
  historyTableDefinition,
  keepsHistory,
  MembershipTable,
  membershipTableDefinition,
  notifyingTableLabels,
} from '../lambdas/rohrpost';
import { bundledFunctionCode } from './function-bundle';
import type { MonitoringProps } from './monitoring';
import { Monitoring } from './monitoring';
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
   * Set API Gateway's CloudWatch Logs role for the account and region, which access logging
   * needs. Turn it off where another stack sets it. @default true
   */
  readonly setApiGatewayAccountRole?: boolean;
  /** The functions' CPU architecture. @default Architecture.ARM_64 */
  readonly architecture?: Architecture;
}

/** The runtime of every function: the newest Node.js Lambda runs. */
const FUNCTION_RUNTIME = Runtime.NODEJS_24_X;

/**
 * rohrpost on API Gateway, Lambda and DynamoDB: a WebSocket API whose `$connect`,
 * `$disconnect` and `$default` routes run the websocket function (replies as route
 * responses), a membership table, and a notification function fed by the streams of the
 * configured tables, with the groups' history table, a dead-letter queue and alarms. Every
 * permission is scoped to the resources it is for.
 */
export class RohrpostWebSocket extends Construct {
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
  readonly deadLetterQueue: Queue | undefined;
  /** The dashboard; `undefined` when the `dashboard` prop turns it off. */
  readonly dashboard: Dashboard | undefined;

  private readonly props: RohrpostWebSocketProps;
  private readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: RohrpostWebSocketProps) {
    super(scope, id);
    this.props = props;
    const { config } = props;
    this.monitoring = new Monitoring(this, props);

    this.membershipTable = this.createMembershipTable();
    this.historyTable = keepsHistory(config) ? this.createHistoryTable() : undefined;
    const history = this.historyTable && historySettings(config, this.historyTable.tableName);
    this.tables = Object.fromEntries(
      Object.entries(config.tables).map(([label, table]) => [label, this.applicationTable(label, table)]),
    );

    this.api = new WebSocketApi(this, 'Api', { description: 'rohrpost: request/reply and live updates' });
    this.stage = this.createStage(props.stageName ?? 'prod');
    if (props.setApiGatewayAccountRole ?? true) this.setAccountLoggingRole();

    this.websocketFunction = this.createWebsocketFunction(history);
    this.authorizerFunction = this.addRoutes();

    const notifying = notifyingTableLabels(config);
    if (notifying.length > 0) {
      this.deadLetterQueue = this.createDeadLetterQueue();
      this.notificationFunction = this.createNotificationFunction(notifying, history, this.deadLetterQueue);
    }
    this.dashboard = this.monitoring.createDashboard({
      api: this.api,
      stage: this.stage,
      functions: [this.websocketFunction, this.notificationFunction, this.authorizerFunction].filter(
        (fn): fn is LambdaFunction => fn !== undefined,
      ),
      notifications: this.notificationFunction !== undefined,
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

  /** Who is in which group: a connection's memberships, found by group and by connection. */
  private createMembershipTable(): Table {
    const table = new Table(this, 'Memberships', {
      ...tableShape(membershipTableDefinition),
      billingMode: BillingMode.PAY_PER_REQUEST,
      deletionProtection: this.props.membershipDeletionProtection ?? false,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    for (const index of indexProps(membershipTableDefinition)) table.addGlobalSecondaryIndex(index);
    Validations.of(table).acknowledge({
      id: 'AwsSolutions-DDB3',
      reason:
        'Memberships last a connection (2 hours at most) and clients rebuild them on reconnect; ' +
        'a point-in-time restore would bring back connections that no longer exist.',
    });
    return table;
  }

  /** Each group's recent messages, for clients that reconnect. */
  private createHistoryTable(): Table {
    const table = new Table(this, 'History', {
      ...tableShape(historyTableDefinition),
      billingMode: BillingMode.PAY_PER_REQUEST,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(table).acknowledge({
      id: 'AwsSolutions-DDB3',
      reason:
        'The history keeps messages for an hour or so, for clients that reconnect. Losing it is ' +
        'safe: groups start a new epoch and clients refetch, which a restore could not improve.',
    });
    return table;
  }

  /** The stage clients connect to, throttled, with JSON access logs. */
  private createStage(stageName: string): WebSocketStage {
    return new WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName,
      autoDeploy: true,
      throttle: {
        rateLimit: this.props.throttlingRateLimit ?? 1000,
        burstLimit: this.props.throttlingBurstLimit ?? 500,
      },
      accessLogSettings: {
        destination: new LogGroupLogDestination(
          new LogGroup(this, 'AccessLogs', {
            retention: this.props.logRetention ?? RetentionDays.ONE_MONTH,
            removalPolicy: RemovalPolicy.DESTROY,
          }),
        ),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            connectionId: '$context.connectionId',
            eventType: '$context.eventType',
            routeKey: '$context.routeKey',
            status: '$context.status',
            integrationStatus: '$context.integration.status',
            error: '$context.error.message',
            sourceIp: '$context.identity.sourceIp',
            principalId: '$context.authorizer.principalId',
            requestTime: '$context.requestTime',
          }),
        ),
      },
    });
  }

  /** The function behind `$connect`, `$disconnect` and `$default`, with its permissions. */
  private createWebsocketFunction(history: HistorySettings | undefined): LambdaFunction {
    const { config } = this.props;
    const fn = this.function('WebSocket', config.websocket, {
      managementEndpoint: this.stage.callbackUrl,
      tableLabels: handlerTableLabels(config),
      history,
      description: 'rohrpost: $connect, $disconnect and $default',
    });
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:BatchWriteItem'],
        resources: this.membershipArns(),
      }),
    );
    // Subscribing reads a group's position (and starts it), recovering queries its messages.
    this.allowHistory(fn, ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query']);
    this.allowManageConnections(fn, ['POST', 'DELETE']);
    for (const label of handlerTableLabels(config)) {
      this.allowTableAccess(fn, label, config.tables[label]!);
    }
    this.monitoring.watchHandlers();
    return fn;
  }

  /** The routes, `$connect` behind the authorizer when there is one; returns the authorizer's function. */
  private addRoutes(): LambdaFunction | undefined {
    const { config } = this.props;
    const integration = new WebSocketLambdaIntegration('Handler', this.websocketFunction);
    let authorizerFunction: LambdaFunction | undefined;
    if (config.authorizer) {
      // API Gateway caches no authorizer results for WebSocket APIs: each $connect runs it. The
      // JWT check keeps the issuer's keys for the instance's life, so it costs no request.
      authorizerFunction = this.function('Authorizer', config.authorizer, {
        tableLabels: [],
        jwt: config.authorizer.jwt,
        description: config.authorizer.jwt
          ? 'rohrpost: JWT check on $connect'
          : 'rohrpost: who is connecting',
      });
      this.api.addRoute('$connect', {
        integration,
        authorizer: new WebSocketLambdaAuthorizer('Authorizer', authorizerFunction, {
          identitySource: [...config.authorizer.identitySource],
        }),
      });
    } else {
      this.api.addRoute('$connect', { integration });
    }
    this.api.addRoute('$disconnect', { integration });
    this.api.addRoute('$default', { integration, returnResponse: true });
    this.acknowledgeRouteAuthorization(Boolean(config.authorizer));
    return authorizerFunction;
  }

  /** Where stream batches that failed every retry go, and changes that can never be sent. */
  private createDeadLetterQueue(): Queue {
    const queue = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is the dead-letter destination of the stream event source mappings; its messages ' +
        'describe failed stream batches, to inspect and replay, so it has no dead-letter queue of its own.',
    });
    this.monitoring.watchDeadLetters(queue);
    return queue;
  }

  /** The function fed by the notifying tables' streams, with its permissions and alarms. */
  private createNotificationFunction(
    notifying: readonly string[],
    history: HistorySettings | undefined,
    deadLetterQueue: Queue,
  ): LambdaFunction {
    const { notifications } = this.props.config;
    const fn = this.function('Notifications', notifications, {
      managementEndpoint: this.stage.callbackUrl,
      tableLabels: [...notifying],
      history,
      deadLetterQueueUrl: deadLetterQueue.queueUrl,
      description: 'rohrpost: table changes to subscription-update messages',
    });
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:Query', 'dynamodb:BatchWriteItem'],
        resources: this.membershipArns(),
      }),
    );
    // Placing messages is a transaction of updates and conditional puts; marking them delivered a batch of puts.
    this.allowHistory(fn, [
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:BatchWriteItem',
    ]);
    // Changes that can never be notified are set aside at once.
    deadLetterQueue.grantSendMessages(fn);
    this.allowManageConnections(fn, ['POST']);
    for (const label of notifying) {
      fn.addEventSource(
        new DynamoEventSource(this.tables[label]!, {
          startingPosition: StartingPosition.LATEST,
          batchSize: notifications.batchSize,
          bisectBatchOnError: true,
          reportBatchItemFailures: true,
          retryAttempts: notifications.retryAttempts,
          maxRecordAge: Duration.seconds(notifications.maxRecordAgeSeconds),
          onFailure: new SqsDlq(deadLetterQueue),
        }),
      );
    }
    Validations.of(fn.role!).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'dynamodb:ListStreams, which the stream event source mapping needs, has no resource-level ' +
        'permissions; reading records is limited to the configured streams.',
    });
    this.monitoring.watchNotifications(fn, notifications.maxRecordAgeSeconds);
    return fn;
  }

  /** The membership table and its by-connection index. */
  private membershipArns(): string[] {
    return [
      this.membershipTable.tableArn,
      `${this.membershipTable.tableArn}/index/${MembershipTable.connectionIndex}`,
    ];
  }

  private applicationTable(label: string, table: ApplicationTableConfig): ITable {
    const id = `Table${label.replace(/[^A-Za-z0-9]/g, '')}`;
    if (table.existing) {
      return Table.fromTableAttributes(this, id, {
        tableName: table.existing.tableName,
        ...(table.existing.streamArn && { tableStreamArn: table.existing.streamArn }),
      });
    }
    const created = new Table(this, id, {
      ...tableShape(table),
      billingMode: BillingMode.PAY_PER_REQUEST,
      ...(table.notifications && { stream: StreamViewType.NEW_AND_OLD_IMAGES }),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: this.props.tableRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    for (const index of indexProps(table)) created.addGlobalSecondaryIndex(index);
    return created;
  }

  /**
   * A Node.js function bundled by the local esbuild: minified, with a source map, the AWS SDK
   * bundled in a file of its own that loads on first use (see function-bundle.ts). Its role may only write its own log group; the rest is granted
   * statement by statement.
   */
  private function(
    id: string,
    config: ResolvedFunction,
    options: {
      managementEndpoint?: string;
      tableLabels: string[];
      history?: HistorySettings;
      deadLetterQueueUrl?: string;
      jwt?: JwtSettings;
      description: string;
    },
  ): LambdaFunction {
    const logGroup = new LogGroup(this, `${id}Logs`, {
      retention: this.props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new Role(this, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(logGroup.node.defaultChild as never)}.Arn>:*]`,
      reason:
        'Lambda creates its log streams at run time, so their names are only known as a prefix of the log group.',
    });
    const projectRoot = this.props.projectRoot ?? process.cwd();
    const fn = new LambdaFunction(this, id, {
      code: bundledFunctionCode(projectRoot, resolve(projectRoot, config.entry)),
      handler: `index.${config.handler}`,
      description: options.description,
      runtime: FUNCTION_RUNTIME,
      architecture: this.props.architecture ?? Architecture.ARM_64,
      memorySize: config.memorySize,
      timeout: Duration.seconds(config.timeoutSeconds),
      reservedConcurrentExecutions: config.reservedConcurrency,
      role,
      logGroup,
      environment: {
        ...functionEnvironment({
          managementEndpoint: options.managementEndpoint ?? '',
          membershipTable: this.membershipTable.tableName,
          tableNames: Object.fromEntries(
            options.tableLabels.map((label) => [label, this.tables[label]!.tableName]),
          ),
          history: options.history,
          deadLetterQueueUrl: options.deadLetterQueueUrl,
          jwt: options.jwt,
        }),
        // Stack traces in the logs point into the TypeScript sources, not the minified bundle.
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_METRICS_NAMESPACE: this.monitoring.namespace,
      },
    });
    this.monitoring.watchFunction(id, fn);
    return fn;
  }

  /** PostToConnection (POST) and DeleteConnection (DELETE) on this stage's connections only. */
  private allowManageConnections(fn: LambdaFunction, methods: Array<'POST' | 'DELETE'>): void {
    const resources = methods.map(
      (method) =>
        `arn:${Aws.PARTITION}:execute-api:${Aws.REGION}:${Aws.ACCOUNT_ID}:${this.api.apiId}/${this.stage.stageName}/${method}/@connections/*`,
    );
    fn.addToRolePolicy(new PolicyStatement({ actions: ['execute-api:ManageConnections'], resources }));
    for (const resource of resources) {
      Validations.of(fn.role!).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${this.resolveForNag(resource)}]`,
        reason:
          'Connection ids are assigned by API Gateway at run time; the grant is limited to this API stage and method.',
      });
    }
  }

  /** The given actions on the history table, when there is one. */
  private allowHistory(fn: LambdaFunction, actions: string[]): void {
    if (!this.historyTable) return;
    fn.addToRolePolicy(new PolicyStatement({ actions, resources: [this.historyTable.tableArn] }));
  }

  /** What the websocket function's handlers may do with an application table, and nothing more. */
  private allowTableAccess(fn: LambdaFunction, label: string, table: ApplicationTableConfig): void {
    const arn = this.tables[label]!.tableArn;
    const read = [
      'dynamodb:GetItem',
      'dynamodb:BatchGetItem',
      'dynamodb:Query',
      'dynamodb:Scan',
      'dynamodb:ConditionCheckItem',
    ];
    const write = [
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:BatchWriteItem',
    ];
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: table.handlerAccess === 'read-write' ? [...read, ...write] : read,
        resources: [arn, ...(table.indexes ?? []).map((index) => `${arn}/index/${index.name}`)],
      }),
    );
  }

  /** API Gateway writes access logs through one role per account and region. */
  private setAccountLoggingRole(): void {
    const role = new Role(this, 'ApiGatewayLoggingRole', {
      assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
      managedPolicies: [
        ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs'),
      ],
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        "AWS's managed policy for API Gateway's account-wide logging role: API Gateway picks the log " +
        'groups at run time, so no narrower policy is possible.',
    });
    const account = new CfnAccount(this, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
    this.stage.node.addDependency(account);
  }

  private acknowledgeRouteAuthorization(hasAuthorizer: boolean): void {
    for (const route of ['$disconnect', '$default', ...(hasAuthorizer ? [] : ['$connect'])]) {
      const child = this.api.node.tryFindChild(`${route}-Route`);
      if (!child) continue;
      Validations.of(child).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          route === '$connect'
            ? 'No authorizer is configured: clients authenticate per subscription (subscribe checks auth_jwt and ' +
              'refuses by default). Add `authorizer` to rohrpost.config.ts to authenticate connections.'
            : 'API Gateway WebSocket APIs authorize on $connect only; later messages carry its identity.',
      });
    }
  }

  /** A resource as cdk-nag prints it: tokens as `<LogicalId>`, pseudo parameters as `<AWS::Name>`. */
  private resolveForNag(resource: string): string {
    const joined = Stack.of(this).resolve(resource) as {
      'Fn::Join': [string, Array<string | { Ref: string }>];
    };
    return joined['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : `<${part.Ref}>`)).join('');
  }
}
