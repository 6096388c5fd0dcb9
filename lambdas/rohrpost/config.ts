/**
 * The project's one configuration: the tables and function entries that the CDK app deploys
 * and the local sandbox emulates. `rohrpost.config.ts` at the project root is written with it.
 */
import type { JwtSettings } from './environment';
import type { LanesConfig, ResolvedLanes } from './lanes-config';
import { resolveLanes } from './lanes-config';
import { groupNameProblem } from './protocol/group-name';

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

/** An application table. */
export interface ApplicationTableConfig extends TableDefinition {
  /** What the websocket function's handlers may do with the table. @default 'none' */
  readonly handlerAccess?: 'none' | 'read' | 'read-write';
  /**
   * Push the table's creates, updates and deletes to subscribers, through its stream (new and
   * old images). @default not pushed, and no stream
   */
  readonly notifications?: NotificationRule;
  /**
   * A table that already exists in the AWS account: the CDK app uses it instead of creating it
   * (the sandbox creates it locally all the same). Its stream must have new and old images.
   * @default the CDK app creates the table
   */
  readonly existing?: ExistingTable;
}

/** A table the CDK app does not create. */
export interface ExistingTable {
  readonly tableName: string;
  /** The table's stream, needed when the table has `notifications`. @default no stream */
  readonly streamArn?: string;
}

/**
 * How a change to an item becomes a `subscription-update` (PROTOCOL.md §4). A hook module in
 * lambdas/notification-hooks/ can compute the group and the object in code instead.
 */
export interface NotificationRule {
  /**
   * The group to notify, filled from the item: `'note-{id}'`, or several:
   * `['note-{id}', 'board-{boardId}', 'notes-all']` (a name without placeholders is a group every
   * change notifies). A template whose attribute the item lacks names no group.
   * @default '<label lower-cased>-<key values joined by ->'
   */
  readonly group?: string | readonly string[];
  /** The attributes sent as the message's `object`. @default the item's key attributes */
  readonly object?: readonly string[];
  /** Send an update even when none of the `object` attributes changed. @default true */
  readonly alwaysSend?: boolean;
  /** Announce items that DynamoDB's TTL deleted, as `delete`. @default 'send' */
  readonly expiredItems?: 'send' | 'skip';
}

/** The notification function and how it reads the streams. */
export interface NotificationsConfig extends Partial<FunctionConfig> {
  /** Stream records per invocation. @default 100 */
  readonly batchSize?: number;
  /** Retries of a failing record before it goes to the dead-letter queue. @default 5 */
  readonly retryAttempts?: number;
  /** Records older than this go to the dead-letter queue unprocessed. @default 3600 */
  readonly maxRecordAgeSeconds?: number;
  /** Posts in flight at once while notifying a group. @default 50 */
  readonly concurrency?: number;
  /**
   * Each group's recent messages, kept in DynamoDB so that a client that reconnects receives
   * what it missed; `false` sends messages without `seq` and `epoch`, and nothing is recoverable.
   * @default the defaults of HistoryConfig
   */
  readonly history?: HistoryConfig | false;
  /**
   * How big groups are delivered (lanes-config.ts); `false` has the notification function post
   * to every group itself. Needs `history`. @default the defaults of LanesConfig, when history is kept
   */
  readonly lanes?: LanesConfig | false;
}

/** How much of each group's history is kept (PROTOCOL.md §5). */
export interface HistoryConfig {
  /** How long a message stays recoverable, in seconds. @default 3600 */
  readonly retentionSeconds?: number;
  /** The most messages one subscribe recovers; a client that missed more refetches. @default 100 */
  readonly maxMessages?: number;
  /**
   * How long a group that sends nothing keeps its epoch and seq, in seconds; after that its
   * counting starts again in a new epoch. @default 2592000 (30 days)
   */
  readonly positionLifetimeSeconds?: number;
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
  /**
   * Invocations at once at most (Lambda's reserved concurrency); more are throttled. The sandbox
   * keeps to it too. @default none: the account's unreserved concurrency
   */
  readonly reservedConcurrency?: number;
}

/** A function's settings with the defaults applied. */
export type ResolvedFunction = Required<Omit<FunctionConfig, 'reservedConcurrency'>> & {
  readonly reservedConcurrency: number | undefined;
};

/** A Lambda REQUEST authorizer on `$connect`. */
export interface AuthorizerConfig extends FunctionConfig {
  /**
   * Where the credentials are; a connection without them is refused with 401 before the
   * authorizer runs. @default ['route.request.querystring.token']
   */
  readonly identitySource?: readonly string[];
}

/** JSON Web Tokens from a Cognito user pool or an OIDC provider, checked on `$connect`. */
export interface JwtConfig {
  /** The `iss` claim: `https://cognito-idp.<region>.amazonaws.com/<user pool id>`, or an OIDC issuer. */
  readonly issuer: string;
  /** Where the issuer publishes its signing keys. @default `<issuer>/.well-known/jwks.json` (Cognito's, Auth0's) */
  readonly jwksUri?: string;
  /** Accepted `aud` values: an ID token's app client id. @default none; give this or clientId */
  readonly audience?: string | readonly string[];
  /** Accepted `client_id` values: a Cognito access token has no `aud`. @default none; give this or audience */
  readonly clientId?: string | readonly string[];
  /** The query parameter that carries the token (browsers cannot set headers on a WebSocket). @default 'token' */
  readonly queryParameter?: string;
  /** Claims handlers receive in `context.identity`, beside `principalId` (the `sub`). @default ['sub'] */
  readonly claims?: readonly string[];
  /** Accepted signature algorithms; only asymmetric ones. @default ['RS256', 'ES256'] */
  readonly algorithms?: readonly JwtAlgorithm[];
}

export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/** The built-in authorizer: JWTs checked with `jose`, configured by `jwt`. */
export interface JwtAuthorizerConfig extends Omit<FunctionConfig, 'entry'> {
  readonly jwt: JwtConfig;
}

export interface RohrpostConfig {
  /** The websocket function, serving `$connect`, `$disconnect` and `$default`. @default { entry: 'lambdas/websocket.ts' } */
  readonly websocket?: FunctionConfig;
  /**
   * Who is connecting: `{ jwt: {...} }` for the built-in JWT check, or your own authorizer
   * function that turns credentials into the connection's identity. @default none
   */
  readonly authorizer?: AuthorizerConfig | JwtAuthorizerConfig;
  /** The application's tables, by label: the label names the table in handlers and notifications. @default none */
  readonly tables?: Readonly<Record<string, ApplicationTableConfig>>;
  /** The notification function, fed by the streams of the tables with `notifications`. @default { entry: 'lambdas/notify.ts' } */
  readonly notifications?: NotificationsConfig;
}

/** The configuration with every default applied. */
export interface ResolvedConfig {
  readonly websocket: ResolvedFunction;
  readonly authorizer:
    | (ResolvedFunction & {
        readonly identitySource: readonly string[];
        /** The built-in JWT check's settings; `undefined` for an authorizer of your own. */
        readonly jwt: JwtSettings | undefined;
      })
    | undefined;
  readonly tables: Readonly<Record<string, ApplicationTableConfig>>;
  readonly notifications: ResolvedFunction &
    Required<Omit<NotificationsConfig, keyof FunctionConfig | 'history' | 'lanes'>> & {
      /** `undefined` when the configuration turns history off. */
      readonly history: Required<HistoryConfig> | undefined;
      /** `undefined` when big groups have no lanes. */
      readonly lanes: ResolvedLanes | undefined;
    };
}

const DEFAULT_IDENTITY_SOURCE = ['route.request.querystring.token'] as const;
const JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
/** The built-in authorizer's module, relative to the project root. */
const JWT_AUTHORIZER_ENTRY = 'lambdas/rohrpost/runtime/jwt-authorizer.ts';

/** Checks a configuration and applies its defaults; a mistake is an error that says what to fix. */
export function defineConfig(config: RohrpostConfig): ResolvedConfig {
  for (const [label, table] of Object.entries(config.tables ?? {})) {
    if (!/^[A-Za-z0-9_.-]{3,200}$/.test(label)) {
      throw new Error(
        `Table label '${label}' must be 3-200 letters, digits, '_', '-' or '.' (a valid table name).`,
      );
    }
    if (!table.partitionKey?.name) throw new Error(`Table '${label}' needs a partitionKey.`);
    const rule = table.notifications;
    const templates =
      rule?.group === undefined ? [] : typeof rule.group === 'string' ? [rule.group] : rule.group;
    if (rule?.group !== undefined && templates.length === 0) {
      throw new Error(`Table '${label}': notifications.group lists no template, like 'note-{id}'.`);
    }
    for (const template of templates) {
      if (typeof template !== 'string' || !/^(?:[^{}]|\{[^{}]+\})+$/.test(template)) {
        throw new Error(
          `Table '${label}': the group template '${String(template)}' is not a group name with {attribute} ` +
            `placeholders, like 'note-{id}'.`,
        );
      }
      const problem = template.includes('{') ? undefined : groupNameProblem(template);
      if (problem) throw new Error(`Table '${label}': the group '${template}' cannot be one. ${problem}`);
    }
    if (rule && table.existing && !table.existing.streamArn) {
      throw new Error(`Table '${label}' has notifications, so its existing table needs a streamArn.`);
    }
    if (rule?.object?.some((name) => typeof name !== 'string' || name === '')) {
      throw new Error(`Table '${label}': notifications.object lists attribute names, non-empty strings.`);
    }
  }
  const notifications = config.notifications ?? {};
  const setting = (name: string, value: number | undefined, fallback: number, min: number, max: number) => {
    const resolved = value ?? fallback;
    if (!Number.isInteger(resolved) || resolved < min || resolved > max) {
      throw new Error(`notifications.${name} must be a whole number from ${min} to ${max}, not ${resolved}.`);
    }
    return resolved;
  };
  const maxRecordAgeSeconds = setting(
    'maxRecordAgeSeconds',
    notifications.maxRecordAgeSeconds,
    3600,
    60,
    604_800,
  );
  const history = notifications.history === false ? undefined : (notifications.history ?? {});
  return {
    websocket: resolveFunction(config.websocket ?? { entry: 'lambdas/websocket.ts' }, 29),
    authorizer: config.authorizer && resolveAuthorizer(config.authorizer),
    tables: config.tables ?? {},
    notifications: {
      ...resolveFunction({ entry: 'lambdas/notify.ts', ...notifications }, 60),
      batchSize: setting('batchSize', notifications.batchSize, 100, 1, 10_000),
      retryAttempts: setting('retryAttempts', notifications.retryAttempts, 5, 0, 10_000),
      maxRecordAgeSeconds,
      concurrency: setting('concurrency', notifications.concurrency, 50, 1, 1_000),
      history: history && {
        retentionSeconds: setting('history.retentionSeconds', history.retentionSeconds, 3600, 1, 604_800),
        maxMessages: setting('history.maxMessages', history.maxMessages, 100, 1, 10_000),
        // A retried record must find the epoch it was given: positions outlive record retries.
        positionLifetimeSeconds: setting(
          'history.positionLifetimeSeconds',
          history.positionLifetimeSeconds,
          2_592_000,
          Math.max(maxRecordAgeSeconds, history.retentionSeconds ?? 3600),
          315_360_000,
        ),
      },
      lanes: resolveLanes(notifications.lanes, history !== undefined),
    },
  };
}

function resolveAuthorizer(config: AuthorizerConfig | JwtAuthorizerConfig): ResolvedConfig['authorizer'] {
  if (!('jwt' in config)) {
    return {
      ...resolveFunction(config, 10),
      identitySource: config.identitySource ?? DEFAULT_IDENTITY_SOURCE,
      jwt: undefined,
    };
  }
  const jwt = resolveJwt(config.jwt);
  return {
    ...resolveFunction({ ...config, entry: JWT_AUTHORIZER_ENTRY }, 10),
    identitySource: [`route.request.querystring.${jwt.queryParameter}`],
    jwt,
  };
}

/** A value still holding a placeholder such as `<user pool id>`: fine locally, refused at deploy. */
export function isPlaceholder(value: string): boolean {
  return /<[^<>]+>/.test(value);
}

function resolveJwt(jwt: JwtConfig): JwtSettings {
  const list = (value: string | readonly string[] | undefined) =>
    value === undefined ? [] : typeof value === 'string' ? [value] : [...value];
  if (typeof jwt.issuer !== 'string' || !(isPlaceholder(jwt.issuer) || isIssuerUrl(jwt.issuer))) {
    throw new Error(
      `authorizer.jwt.issuer is your identity provider's URL, exactly as its tokens' \`iss\` claim says it, ` +
        `not ${JSON.stringify(jwt.issuer)}. For a Cognito user pool: ` +
        "https://cognito-idp.<region>.amazonaws.com/<user pool id> (the pool's overview in the Cognito console " +
        'shows its id, like eu-central-1_AbCdEf123). The sandbox accepts the placeholder itself: it signs its ' +
        'own tokens.',
    );
  }
  const audience = list(jwt.audience);
  const clientId = list(jwt.clientId);
  if (audience.length + clientId.length === 0) {
    throw new Error(
      'authorizer.jwt needs an audience or a clientId: without one, a token the issuer made for any other ' +
        'application would be accepted.',
    );
  }
  const algorithms = jwt.algorithms ?? ['RS256', 'ES256'];
  const unsupported = algorithms.filter(
    (algorithm) => !(JWT_ALGORITHMS as readonly string[]).includes(algorithm),
  );
  if (algorithms.length === 0 || unsupported.length > 0) {
    throw new Error(
      `authorizer.jwt.algorithms takes asymmetric algorithms only: ${JWT_ALGORITHMS.join(', ')}.`,
    );
  }
  const queryParameter = jwt.queryParameter ?? 'token';
  if (!/^[A-Za-z0-9_.-]+$/.test(queryParameter)) {
    throw new Error(`authorizer.jwt.queryParameter '${queryParameter}' is not a query parameter name.`);
  }
  return {
    issuer: jwt.issuer,
    jwksUri: jwt.jwksUri ?? `${jwt.issuer.replace(/\/$/, '')}/.well-known/jwks.json`,
    audience,
    clientId,
    queryParameter,
    claims: [...(jwt.claims ?? ['sub'])],
    algorithms: [...algorithms],
  };
}

/** An https URL, or http on this machine (a local identity provider). */
function isIssuerUrl(value: string): boolean {
  try {
    const url = new URL(value);
    const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
    return url.protocol === 'https:' || (url.protocol === 'http:' && local);
  } catch {
    return false;
  }
}

function resolveFunction(config: FunctionConfig, defaultTimeoutSeconds: number): ResolvedFunction {
  const { reservedConcurrency } = config;
  if (
    reservedConcurrency !== undefined &&
    (!Number.isInteger(reservedConcurrency) || reservedConcurrency < 1)
  ) {
    throw new Error(
      `${config.entry}: reservedConcurrency is a whole number of at least 1, not ${reservedConcurrency}.`,
    );
  }
  return {
    entry: config.entry,
    handler: config.handler ?? 'handler',
    memorySize: config.memorySize ?? 256,
    timeoutSeconds: config.timeoutSeconds ?? defaultTimeoutSeconds,
    reservedConcurrency,
  };
}
