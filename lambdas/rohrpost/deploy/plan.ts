/**
 * The deployment plan: what a configuration deploys, as data. The CDK construct
 * (lib/rohrpost-websocket.ts) turns it into CloudFormation and the sandbox (sandbox/sandbox.ts)
 * runs it; neither works out a table, a variable, an event source or a permission on its own,
 * so what the sandbox runs is what `cdk deploy` ships.
 */
import type { ExistingTable, ResolvedConfig, ResolvedFunction, TableDefinition } from '../config';
import { isPlaceholder } from '../config';
import { DEAD_LETTER_RETENTION_SECONDS } from '../delivery/dead-letter-format';
import type { HistorySettings, JwtSettings, LaneEnvironment } from '../environment';
import { LANE_WORKER_ENTRY } from '../lanes-config';
import { functionEnvironment } from '../environment';
import { HeadAttributes, HistoryTable, historyTableDefinition } from '../storage/history-table';
import { membershipTableDefinition } from '../storage/membership-table';

export type FunctionRole = 'websocket' | 'notifications' | 'authorizer' | 'lanes';

/** Which part of a deployment a table is, which decides how it is kept. */
export type TableKind = 'membership' | 'history' | 'application';

export interface PlannedTable {
  /** How the plan names it: `membership`, `history`, or an application table's label. */
  readonly id: string;
  readonly kind: TableKind;
  /** Its construct's id in the stack. */
  readonly constructId: string;
  /** Its name in the sandbox, before the sandbox's prefix. */
  readonly localName: string;
  readonly definition: TableDefinition;
  /** A stream with new and old images, which the notification function reads. */
  readonly stream: boolean;
  /** A table that exists in the AWS account: the stack uses it and does not create it. */
  readonly existing?: ExistingTable;
}

export interface PlannedQueue {
  /**
   * How the plan names it: `dead-letters` for stream records given up on, `lanes` for the lane
   * workers' jobs, `lane-dead-letters` for lane jobs that failed every receive.
   */
  readonly id: 'dead-letters' | 'lanes' | 'lane-dead-letters';
  readonly constructId: string;
  /** Its name in the sandbox (a FIFO queue's ends in `.fifo`, as SQS requires). */
  readonly localName: string;
  /** How long a message is kept, in seconds. */
  readonly retentionSeconds: number;
  /** A FIFO queue: ordered and deduplicated per message group. */
  readonly fifo: boolean;
  /** How long a received message stays hidden, in seconds. @default SQS's 30 */
  readonly visibilityTimeoutSeconds?: number;
  /** Where a message goes after `maxReceiveCount` receives. @default none */
  readonly deadLetter?: { readonly queue: PlannedQueue['id']; readonly maxReceiveCount: number };
}

/** What a function is told, as environment variables; the resources' names are filled in where it runs. */
export interface PlannedEnvironment {
  /** The stage's management API, to post to connections. */
  readonly managementEndpoint: boolean;
  readonly membershipTable: boolean;
  /** The labels of the application tables it may use; `undefined` for a function that uses none by design. */
  readonly tables: readonly string[] | undefined;
  /** The groups' history, without the table's name; `undefined` when groups keep none. */
  readonly history: Omit<HistorySettings, 'tableName'> | undefined;
  /** The queue that changes which can never be notified go to. */
  readonly deadLetterQueue: boolean;
  /** The built-in JWT authorizer's settings. */
  readonly jwt: JwtSettings | undefined;
  /** The lanes of big groups, without their queue's URL. */
  readonly lanes: Omit<LaneEnvironment, 'queueUrl'> | undefined;
}

/** What a function may do, resource by resource. */
export type PlannedPermission =
  | {
      readonly kind: 'table';
      /** The table's plan id. */
      readonly table: string;
      readonly actions: readonly string[];
      /** Actions on the table's indexes, which are read only. @default none */
      readonly indexActions?: readonly string[];
      /**
       * The item attributes a write may name (IAM's `dynamodb:Attributes`): the websocket
       * function may start a group's position in the history, never write a message. @default any
       */
      readonly onlyAttributes?: readonly string[];
    }
  /** Reading a table's stream, which its event source mapping does for the function. */
  | { readonly kind: 'stream'; readonly table: string }
  /** PostToConnection (POST) and DeleteConnection (DELETE) on the stage's connections. */
  | { readonly kind: 'manage-connections'; readonly methods: readonly ('POST' | 'DELETE')[] }
  | { readonly kind: 'send-message'; readonly queue: PlannedQueue['id'] }
  /** What reading a queue takes: receiving and deleting (its event source mapping does, with the function's role), and changing a received message's visibility. */
  | { readonly kind: 'consume-queue'; readonly queue: PlannedQueue['id'] };

export interface PlannedFunction {
  readonly role: FunctionRole;
  /** Its construct's id in the stack. */
  readonly constructId: string;
  readonly description: string;
  /** The entry module, relative to the project root. */
  readonly entry: string;
  readonly handler: string;
  readonly memorySize: number;
  readonly timeoutSeconds: number;
  readonly reservedConcurrency: number | undefined;
  readonly environment: PlannedEnvironment;
  readonly permissions: readonly PlannedPermission[];
}

/**
 * A stream that feeds a function, with Lambda's event source mapping settings
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html).
 */
export interface PlannedStreamSource {
  /** The table's plan id. */
  readonly table: string;
  readonly function: FunctionRole;
  readonly startingPosition: 'LATEST';
  readonly batchSize: number;
  readonly bisectBatchOnFunctionError: boolean;
  readonly reportBatchItemFailures: boolean;
  readonly maximumRetryAttempts: number;
  readonly maximumRecordAgeSeconds: number;
  /** Where Lambda sends a description of the records it gives up on. */
  readonly onFailure: PlannedQueue['id'];
}

/**
 * A queue that feeds a function, with Lambda's event source mapping settings
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
 */
export interface PlannedQueueSource {
  readonly queue: PlannedQueue['id'];
  readonly function: FunctionRole;
  readonly batchSize: number;
  /** Invocations at once at most (the mapping's `ScalingConfig.MaximumConcurrency`). */
  readonly maximumConcurrency: number;
  readonly reportBatchItemFailures: boolean;
}

export interface PlannedRoute {
  readonly key: '$connect' | '$disconnect' | '$default';
  readonly function: FunctionRole;
  /** The function's return value is sent to the client (a route response). */
  readonly returnResponse: boolean;
  /** The `$connect` authorizer runs first. */
  readonly authorized: boolean;
}

export interface PlannedAuthorizer {
  readonly function: FunctionRole;
  /** Where the credentials are; a connection without them is refused with 401 before the authorizer runs. */
  readonly identitySource: readonly string[];
}

export interface DeploymentPlan {
  readonly tables: readonly PlannedTable[];
  readonly queues: readonly PlannedQueue[];
  readonly functions: readonly PlannedFunction[];
  readonly streamSources: readonly PlannedStreamSource[];
  readonly queueSources: readonly PlannedQueueSource[];
  readonly routes: readonly PlannedRoute[];
  readonly authorizer: PlannedAuthorizer | undefined;
}

const DYNAMODB_READ = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:Scan',
  'dynamodb:ConditionCheckItem',
];
const DYNAMODB_WRITE = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
];
/** What can be read through an index: it has no items of its own to get or write. */
const INDEX_READ = ['dynamodb:Query', 'dynamodb:Scan'];

/** What `config` deploys. A pure function: the same configuration always gives the same plan. */
export function deploymentPlan(config: ResolvedConfig): DeploymentPlan {
  const labels = Object.keys(config.tables);
  const notifying = labels.filter((label) => config.tables[label]!.notifications !== undefined);
  const handlerTables = labels.filter((label) => (config.tables[label]!.handlerAccess ?? 'none') !== 'none');
  const { notifications } = config;
  const keepsHistory = notifications.history !== undefined && notifying.length > 0;
  const history =
    keepsHistory && notifications.history
      ? { ...notifications.history, recordLifetimeSeconds: notifications.maxRecordAgeSeconds }
      : undefined;

  const tables: PlannedTable[] = [
    {
      id: 'membership',
      kind: 'membership',
      constructId: 'Memberships',
      localName: 'rohrpost-membership',
      definition: membershipTableDefinition,
      stream: false,
    },
    ...(keepsHistory
      ? [
          {
            id: 'history',
            kind: 'history' as const,
            constructId: 'History',
            localName: 'rohrpost-history',
            definition: historyTableDefinition,
            stream: false,
          },
        ]
      : []),
    ...labels.map((label) => {
      const table = config.tables[label]!;
      return {
        id: label,
        kind: 'application' as const,
        constructId: `Table${label.replace(/[^A-Za-z0-9]/g, '')}`,
        localName: label,
        definition: table,
        stream: table.notifications !== undefined,
        ...(table.existing && { existing: table.existing }),
      };
    }),
  ];

  const deadLetters: PlannedQueue | undefined =
    notifying.length > 0
      ? {
          id: 'dead-letters',
          constructId: 'DeadLetters',
          localName: 'rohrpost-dead-letters',
          retentionSeconds: DEAD_LETTER_RETENTION_SECONDS,
          fifo: false,
        }
      : undefined;
  const lanes = history && notifications.lanes;
  const laneQueues: PlannedQueue[] = lanes
    ? [
        // A queue's dead-letter queue comes first: the queue names it.
        {
          id: 'lane-dead-letters',
          constructId: 'LaneDeadLetters',
          localName: 'rohrpost-lane-dead-letters.fifo',
          retentionSeconds: DEAD_LETTER_RETENTION_SECONDS,
          fifo: true,
        },
        {
          id: 'lanes',
          constructId: 'LaneQueue',
          localName: 'rohrpost-lanes.fifo',
          // A lane job is worth nothing after a day: later jobs of its lane carry what it would have sent.
          retentionSeconds: 24 * 60 * 60,
          fifo: true,
          // Six times the worker's timeout, as https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html advises.
          visibilityTimeoutSeconds: 6 * lanes.timeoutSeconds,
          deadLetter: { queue: 'lane-dead-letters', maxReceiveCount: lanes.maxReceiveCount },
        },
      ]
    : [];
  const laneEnvironment: PlannedEnvironment['lanes'] = lanes && {
    groupSize: lanes.groupSize,
    shardSize: lanes.shardSize,
    maxShards: lanes.maxShards,
    postsPerSecond: lanes.postsPerSecond,
    burst: lanes.burst,
    concurrency: lanes.concurrency,
    postsInFlight: lanes.postsInFlight,
  };

  const environment = (overrides: Partial<PlannedEnvironment>): PlannedEnvironment => ({
    managementEndpoint: false,
    membershipTable: false,
    tables: undefined,
    history: undefined,
    deadLetterQueue: false,
    jwt: undefined,
    lanes: undefined,
    ...overrides,
  });
  const membership = (actions: string[]): PlannedPermission => ({
    kind: 'table',
    table: 'membership',
    actions,
    // Cleaning up a connection finds its groups through the index.
    indexActions: ['dynamodb:Query'],
  });

  const functions: PlannedFunction[] = [
    {
      role: 'websocket',
      constructId: 'WebSocket',
      description: 'rohrpost: $connect, $disconnect and $default',
      ...settingsOf(config.websocket),
      environment: environment({
        managementEndpoint: true,
        membershipTable: true,
        tables: handlerTables,
        history,
        // Leaving a big group leaves each shard the member was written to.
        lanes: laneEnvironment,
      }),
      permissions: [
        membership(['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:BatchWriteItem']),
        ...(history
          ? [
              // Subscribing reads a group's position and, with `since`, its messages.
              { kind: 'table' as const, table: 'history', actions: ['dynamodb:GetItem', 'dynamodb:Query'] },
              {
                kind: 'table' as const,
                table: 'history',
                // A group's first subscriber starts its position: a head, never a message.
                actions: ['dynamodb:PutItem'],
                onlyAttributes: [
                  HistoryTable.groupAttribute,
                  HistoryTable.keyAttribute,
                  HistoryTable.expiryAttribute,
                  ...HeadAttributes,
                ],
              },
            ]
          : []),
        { kind: 'manage-connections', methods: ['POST', 'DELETE'] },
        ...handlerTables.map((label): PlannedPermission => {
          const table = config.tables[label]!;
          return {
            kind: 'table',
            table: label,
            actions:
              table.handlerAccess === 'read-write' ? [...DYNAMODB_READ, ...DYNAMODB_WRITE] : DYNAMODB_READ,
            ...(table.indexes?.length && { indexActions: INDEX_READ }),
          };
        }),
      ],
    },
  ];

  if (config.authorizer) {
    const { jwt } = config.authorizer;
    functions.push({
      role: 'authorizer',
      constructId: 'Authorizer',
      description: jwt ? 'rohrpost: JWT check on $connect' : 'rohrpost: who is connecting',
      ...settingsOf(config.authorizer),
      environment: environment({ jwt }),
      permissions: [],
    });
  }

  if (deadLetters) {
    functions.push({
      role: 'notifications',
      constructId: 'Notifications',
      description: 'rohrpost: table changes to subscription-update messages',
      ...settingsOf(notifications),
      environment: environment({
        managementEndpoint: true,
        membershipTable: true,
        tables: notifying,
        history,
        deadLetterQueue: true,
        lanes: laneEnvironment,
      }),
      permissions: [
        // Giving a group lanes writes its layout beside its members.
        membership(['dynamodb:Query', 'dynamodb:BatchWriteItem', ...(lanes ? ['dynamodb:UpdateItem'] : [])]),
        ...(history
          ? [
              {
                kind: 'table' as const,
                table: 'history',
                // Placing messages is a transaction of updates and conditional puts; marking them
                // delivered a batch of puts; giving a group lanes a transaction checking its head.
                actions: [
                  'dynamodb:GetItem',
                  'dynamodb:PutItem',
                  'dynamodb:UpdateItem',
                  'dynamodb:BatchWriteItem',
                  ...(lanes ? ['dynamodb:ConditionCheckItem'] : []),
                ],
              },
            ]
          : []),
        { kind: 'manage-connections', methods: ['POST'] },
        { kind: 'send-message', queue: deadLetters.id },
        ...(lanes ? [{ kind: 'send-message' as const, queue: 'lanes' as const }] : []),
        ...notifying.map((label): PlannedPermission => ({ kind: 'stream', table: label })),
      ],
    });
  }

  if (deadLetters && lanes) {
    functions.push({
      role: 'lanes',
      constructId: 'LaneWorker',
      description: "rohrpost: big groups' messages, one lane per shard of members",
      entry: LANE_WORKER_ENTRY,
      handler: 'handler',
      memorySize: lanes.memorySize,
      timeoutSeconds: lanes.timeoutSeconds,
      reservedConcurrency: undefined,
      environment: environment({
        managementEndpoint: true,
        membershipTable: true,
        history,
        lanes: laneEnvironment,
      }),
      permissions: [
        // A lane reads its shard and its group's layout; a split copies members and writes the
        // layout; a gone connection is removed from its groups.
        membership(['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:BatchWriteItem', 'dynamodb:UpdateItem']),
        {
          kind: 'table',
          table: 'history',
          // Messages and watermarks are read; watermarks and layouts written, a layout in a
          // transaction checking the group's head.
          actions: [
            'dynamodb:GetItem',
            'dynamodb:Query',
            'dynamodb:PutItem',
            'dynamodb:UpdateItem',
            'dynamodb:ConditionCheckItem',
          ],
        },
        { kind: 'manage-connections', methods: ['POST'] },
        { kind: 'consume-queue', queue: 'lanes' },
        // A lane asks for its group to be split.
        { kind: 'send-message', queue: 'lanes' },
      ],
    });
  }

  return {
    tables,
    queues: deadLetters ? [deadLetters, ...laneQueues] : [],
    functions,
    streamSources: notifying.map((label) => ({
      table: label,
      function: 'notifications',
      startingPosition: 'LATEST',
      batchSize: notifications.batchSize,
      bisectBatchOnFunctionError: true,
      reportBatchItemFailures: true,
      maximumRetryAttempts: notifications.retryAttempts,
      maximumRecordAgeSeconds: notifications.maxRecordAgeSeconds,
      onFailure: 'dead-letters',
    })),
    queueSources:
      deadLetters && lanes
        ? [
            {
              queue: 'lanes',
              function: 'lanes',
              // One lane per invocation, which paces itself to its share of the budget: a batch
              // would run its lanes on one share. A run sends everything its group's head has, so
              // a lane's later jobs find little left to do.
              batchSize: 1,
              maximumConcurrency: lanes.concurrency,
              reportBatchItemFailures: true,
            },
          ]
        : [],
    routes: [
      {
        key: '$connect',
        function: 'websocket',
        returnResponse: false,
        authorized: config.authorizer !== undefined,
      },
      { key: '$disconnect', function: 'websocket', returnResponse: false, authorized: false },
      { key: '$default', function: 'websocket', returnResponse: true, authorized: false },
    ],
    authorizer: config.authorizer && {
      function: 'authorizer',
      identitySource: config.authorizer.identitySource,
    },
  };
}

function settingsOf(fn: ResolvedFunction): Pick<PlannedFunction, keyof ResolvedFunction> {
  const { entry, handler, memorySize, timeoutSeconds, reservedConcurrency } = fn;
  return { entry, handler, memorySize, timeoutSeconds, reservedConcurrency };
}

/** The names of a deployment's resources, where it runs: CDK tokens in the stack, real names in the sandbox. */
export interface DeployedNames {
  readonly managementEndpoint: string;
  /** A table's name, by its plan id. */
  tableName(id: string): string;
  /** A queue's URL, by its plan id. */
  queueUrl(id: PlannedQueue['id']): string;
  /** The CloudWatch namespace of the functions' metrics. */
  readonly metricsNamespace: string;
}

/** The environment variables of a planned function, with the resources' names filled in. */
export function environmentOf(fn: PlannedFunction, names: DeployedNames): Record<string, string> {
  const { environment } = fn;
  return {
    ...functionEnvironment({
      managementEndpoint: environment.managementEndpoint ? names.managementEndpoint : undefined,
      membershipTable: environment.membershipTable ? names.tableName('membership') : undefined,
      tableNames:
        environment.tables &&
        Object.fromEntries(environment.tables.map((label) => [label, names.tableName(label)])),
      history: environment.history && { tableName: names.tableName('history'), ...environment.history },
      deadLetterQueueUrl: environment.deadLetterQueue ? names.queueUrl('dead-letters') : undefined,
      jwt: environment.jwt,
      lanes: environment.lanes && { ...environment.lanes, queueUrl: names.queueUrl('lanes') },
    }),
    POWERTOOLS_METRICS_NAMESPACE: names.metricsNamespace,
  };
}

/** A planned function, by its role; throws when the plan has none. */
export function plannedFunction(plan: DeploymentPlan, role: FunctionRole): PlannedFunction {
  const fn = plan.functions.find((candidate) => candidate.role === role);
  if (!fn) throw new Error(`The deployment has no ${role} function.`);
  return fn;
}

/** A planned table, by its plan id; throws when the plan has none. */
export function plannedTable(plan: DeploymentPlan, id: string): PlannedTable {
  const table = plan.tables.find((candidate) => candidate.id === id);
  if (!table) throw new Error(`The deployment has no table '${id}'.`);
  return table;
}

/**
 * What still has to be filled in before the plan can be deployed: placeholders such as
 * `<user pool id>` that rohrpost.config.ts ships with. The sandbox runs them (it signs its own
 * tokens); a deployment would refuse every connection.
 */
export function deploymentProblems(plan: DeploymentPlan): string[] {
  const problems: string[] = [];
  for (const fn of plan.functions) {
    const { jwt } = fn.environment;
    if (!jwt) continue;
    if (isPlaceholder(jwt.issuer) || isPlaceholder(jwt.jwksUri)) {
      problems.push(
        `rohrpost.config.ts: authorizer.jwt.issuer is still the placeholder ${JSON.stringify(jwt.issuer)}. ` +
          "Put your identity provider's issuer there, as its tokens' `iss` claim says it: for a Cognito user " +
          'pool https://cognito-idp.<region>.amazonaws.com/<user pool id>, with the region and the id from ' +
          "the pool's overview in the Cognito console (like eu-central-1_AbCdEf123). npm start works with " +
          'the placeholder: the sandbox signs its own tokens.',
      );
    }
    for (const [field, values] of [
      ['audience', jwt.audience],
      ['clientId', jwt.clientId],
    ] as const) {
      const placeholders = values.filter(isPlaceholder);
      if (placeholders.length === 0) continue;
      problems.push(
        `rohrpost.config.ts: authorizer.jwt.${field} is still the placeholder ${JSON.stringify(placeholders[0])}. ` +
          "Put your app client's id there: in the Cognito console, your user pool's App clients list it.",
      );
    }
  }
  return problems;
}
