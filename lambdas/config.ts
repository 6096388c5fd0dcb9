/**
 * The project's one configuration: the tables and function entries that the CDK app deploys
 * and the local sandbox emulates. `rohrpost.config.ts` at the project root is written with it.
 */

export type AttributeType = 'string' | 'number' | 'binary';

export interface KeyAttribute {
  readonly name: string;
  readonly type: AttributeType;
}

/** A DynamoDB table's shape, as both the CDK app and the sandbox create it. */
export interface TableDefinition {
  readonly partitionKey: KeyAttribute;
  /** @default no sort key */
  readonly sortKey?: KeyAttribute;
  /** The attribute DynamoDB's TTL deletes expired items by. @default no TTL */
  readonly timeToLiveAttribute?: string;
  /** Global secondary indexes. @default none */
  readonly indexes?: readonly IndexDefinition[];
}

export interface IndexDefinition {
  readonly name: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  /** Which attributes the index holds. @default 'all' */
  readonly projection?: 'keys-only' | 'all';
}

/** An application table. Its stream (new and old images) feeds change notifications. */
export interface ApplicationTableConfig extends TableDefinition {
  /** What the websocket function's handlers may do with the table. @default 'none' */
  readonly handlerAccess?: 'none' | 'read' | 'read-write';
}

/** A Lambda function's code, bundled from a TypeScript entry by esbuild. */
export interface FunctionConfig {
  /** The entry module, relative to the project root. */
  readonly entry: string;
  /** The exported handler function's name. @default 'handler' */
  readonly handler?: string;
  /** Memory in MB. @default 256 */
  readonly memorySize?: number;
  /** Timeout in seconds. @default 29 for the websocket function, the integration timeout */
  readonly timeoutSeconds?: number;
}

/** A Lambda REQUEST authorizer on `$connect`. */
export interface AuthorizerConfig extends FunctionConfig {
  /**
   * Where the credentials are; a connection without them is refused with 401 before the
   * authorizer runs. @default ['route.request.querystring.token']
   */
  readonly identitySource?: readonly string[];
}

export interface RohrpostConfig {
  /** The websocket function, serving `$connect`, `$disconnect` and `$default`. @default { entry: 'lambdas/websocket.ts' } */
  readonly websocket?: FunctionConfig;
  /** An authorizer that turns credentials into the connection's identity. @default none */
  readonly authorizer?: AuthorizerConfig;
  /** The application's tables, by label: the label names the table in handlers and notifications. @default none */
  readonly tables?: Readonly<Record<string, ApplicationTableConfig>>;
}

/** The configuration with every default applied. */
export interface ResolvedConfig {
  readonly websocket: Required<FunctionConfig>;
  readonly authorizer:
    (Required<FunctionConfig> & { readonly identitySource: readonly string[] }) | undefined;
  readonly tables: Readonly<Record<string, ApplicationTableConfig>>;
}

export const DEFAULT_IDENTITY_SOURCE = ['route.request.querystring.token'] as const;

/** Checks a configuration and applies its defaults; a mistake is an error that says what to fix. */
export function defineConfig(config: RohrpostConfig): ResolvedConfig {
  for (const [label, table] of Object.entries(config.tables ?? {})) {
    if (!/^[A-Za-z0-9_.-]{1,200}$/.test(label)) {
      throw new Error(
        `Table label '${label}' must be 1-200 letters, digits, '_', '-' or '.' (a valid table name).`,
      );
    }
    if (!table.partitionKey?.name) throw new Error(`Table '${label}' needs a partitionKey.`);
  }
  return {
    websocket: resolveFunction(config.websocket ?? { entry: 'lambdas/websocket.ts' }, 29),
    authorizer: config.authorizer && {
      ...resolveFunction(config.authorizer, 10),
      identitySource: config.authorizer.identitySource ?? DEFAULT_IDENTITY_SOURCE,
    },
    tables: config.tables ?? {},
  };
}

function resolveFunction(config: FunctionConfig, defaultTimeoutSeconds: number): Required<FunctionConfig> {
  return {
    entry: config.entry,
    handler: config.handler ?? 'handler',
    memorySize: config.memorySize ?? 256,
    timeoutSeconds: config.timeoutSeconds ?? defaultTimeoutSeconds,
  };
}

/** The labels of the tables the websocket function's handlers may use. */
export function handlerTableLabels(config: ResolvedConfig): string[] {
  return Object.entries(config.tables)
    .filter(([, table]) => (table.handlerAccess ?? 'none') !== 'none')
    .map(([label]) => label);
}
