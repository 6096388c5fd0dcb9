/**
 * The environment variables the functions read. The CDK construct and the local sandbox both
 * set them from the deployment plan (deploy/plan.ts), so the functions run unchanged in both places.
 */
export const EnvironmentVariables = {
  /** Base URL of the API Gateway management API, e.g. `https://abc.execute-api.eu-west-1.amazonaws.com/prod`. */
  managementEndpoint: 'ROHRPOST_MANAGEMENT_ENDPOINT',
  /** Name of the membership table. */
  membershipTable: 'ROHRPOST_MEMBERSHIP_TABLE',
  /** JSON object from table label (as in rohrpost.config.ts) to table name. */
  tableNames: 'ROHRPOST_TABLE_NAMES',
  /** JSON `HistorySettings`; unset when groups keep no history. */
  history: 'ROHRPOST_HISTORY',
  /** URL of the SQS queue that changes which can never be notified are sent to. */
  deadLetterQueueUrl: 'ROHRPOST_DEAD_LETTER_QUEUE_URL',
  /** JSON `JwtSettings`, for the built-in JWT authorizer. */
  jwt: 'ROHRPOST_JWT',
  /** JSON `LaneEnvironment`: the delivery lanes of big groups; unset when there are none. */
  lanes: 'ROHRPOST_LANES',
} as const;

type VariableName = (typeof EnvironmentVariables)[keyof typeof EnvironmentVariables];

/** Where and for how long the groups' histories are kept (rohrpost.config.ts's `notifications.history`). */
export interface HistorySettings {
  readonly tableName: string;
  readonly retentionSeconds: number;
  readonly maxMessages: number;
  readonly positionLifetimeSeconds: number;
  /** How long a record's place in a group's history is remembered: as long as Lambda may retry it. */
  readonly recordLifetimeSeconds: number;
}

/** What the built-in JWT authorizer checks (rohrpost.config.ts's `authorizer.jwt`, defaults applied). */
export interface JwtSettings {
  readonly issuer: string;
  readonly jwksUri: string;
  /** Accepted `aud` values; a token passes with one of these or one of `clientId`. */
  readonly audience: readonly string[];
  /** Accepted `client_id` values. */
  readonly clientId: readonly string[];
  readonly queryParameter: string;
  readonly claims: readonly string[];
  readonly algorithms: readonly string[];
}

/** How big groups are delivered (rohrpost.config.ts's `notifications.lanes`, defaults applied), and the lanes' queue. */
export interface LaneEnvironment {
  /** The lanes' FIFO queue. */
  readonly queueUrl: string;
  /** Members above which a group gets lanes. */
  readonly groupSize: number;
  /** Members of a shard above which the group's shards are doubled. */
  readonly shardSize: number;
  readonly maxShards: number;
  /** PostToConnection calls a second all lanes together may make, and their burst. */
  readonly postsPerSecond: number;
  readonly burst: number;
  /** Lane workers at once: each paces itself to its share of the budget. */
  readonly concurrency: number;
  /** Posts in flight at once per worker. */
  readonly postsInFlight: number;
}

export interface FunctionEnvironment {
  /** @default none */
  readonly managementEndpoint?: string;
  /** @default none */
  readonly membershipTable?: string;
  /** The application tables this function may use, by label. @default none */
  readonly tableNames?: Readonly<Record<string, string>>;
  /** @default no history */
  readonly history?: HistorySettings;
  /** @default none */
  readonly deadLetterQueueUrl?: string;
  /** @default none */
  readonly jwt?: JwtSettings;
  /** @default no lanes */
  readonly lanes?: LaneEnvironment;
}

/** The variables for a function; values may be CDK tokens. */
export function functionEnvironment(values: FunctionEnvironment): Record<string, string> {
  return {
    ...(values.managementEndpoint && {
      [EnvironmentVariables.managementEndpoint]: values.managementEndpoint,
    }),
    ...(values.membershipTable && { [EnvironmentVariables.membershipTable]: values.membershipTable }),
    ...(values.tableNames && { [EnvironmentVariables.tableNames]: JSON.stringify(values.tableNames) }),
    ...(values.history && { [EnvironmentVariables.history]: JSON.stringify(values.history) }),
    ...(values.deadLetterQueueUrl && {
      [EnvironmentVariables.deadLetterQueueUrl]: values.deadLetterQueueUrl,
    }),
    ...(values.jwt && { [EnvironmentVariables.jwt]: JSON.stringify(values.jwt) }),
    ...(values.lanes && { [EnvironmentVariables.lanes]: JSON.stringify(values.lanes) }),
  };
}

/** The value of a variable, or `undefined` when unset or empty. */
export function readEnvironment(name: VariableName): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** The value of a variable the function cannot work without. */
export function requireEnvironment(name: VariableName): string {
  const value = readEnvironment(name);
  if (value === undefined) {
    throw new Error(
      `${name} is not set: deploy with the rohrpost CDK construct or run in the sandbox (npm start).`,
    );
  }
  return value;
}
