import type { Context } from 'aws-lambda';
import type { Logger } from '../logger';
import { createLogger } from '../logger';
import { AUTHORIZER_SERVICE } from '../metric-names';
import type { AuthorizerMetricsRecorder } from '../metrics';
import { createAuthorizerMetrics } from '../metrics';
import type { ConnectRequest } from './connect';
import { connectRequest } from './connect';
import type { WebSocketRequestContext } from '../protocol/websocket-event';

/** What API Gateway sends a Lambda REQUEST authorizer on a WebSocket API's `$connect`. */
export interface WebSocketAuthorizerEvent {
  type: 'REQUEST';
  methodArn: string;
  headers?: Record<string, string | undefined>;
  multiValueHeaders?: Record<string, string[] | undefined>;
  queryStringParameters?: Record<string, string | undefined>;
  multiValueQueryStringParameters?: Record<string, string[] | undefined>;
  stageVariables?: Record<string, string | undefined>;
  requestContext: WebSocketRequestContext;
}

/** Values API Gateway can pass on from an authorizer: strings, numbers and booleans only. */
export type IdentityValue = string | number | boolean;

/** Who is connecting. `context` reaches every later event as `requestContext.authorizer`. */
export interface Identity {
  readonly principalId: string;
  readonly context?: Readonly<Record<string, IdentityValue>>;
}

export interface PolicyStatement {
  Action: string;
  Effect: 'Allow' | 'Deny';
  Resource: string;
}

export interface WebSocketAuthorizerResult {
  principalId: string;
  policyDocument: { Version: '2012-10-17'; Statement: PolicyStatement[] };
  context?: Record<string, IdentityValue>;
}

/** Decides who is connecting; `undefined` refuses the connection with 401. */
export type AuthorizeConnection = (
  request: ConnectRequest,
) => Identity | undefined | Promise<Identity | undefined>;

/** API Gateway answers 401 only to this exact error message from an authorizer. */
const UNAUTHORIZED = 'Unauthorized';

/**
 * Credentials that do not let a connection in: refused with 401, counted by `reason` (one of a
 * fixed set, such as `expired` or `signature`: a metric dimension), the detail logged.
 */
export class CredentialsRefused extends Error {
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(detail);
    this.name = 'CredentialsRefused';
  }
}

export interface ConnectAuthorizerOptions {
  /** @default a JSON logger for service `rohrpost-authorizer` */
  readonly logger?: Logger;
  /** @default Powertools' Metrics, a line per connection attempt */
  readonly metrics?: AuthorizerMetricsRecorder;
}

/**
 * Creates a `$connect` REQUEST authorizer from a function that verifies credentials (a token
 * in the query string, usually). An identity allows the connection; `undefined`, or a
 * `CredentialsRefused` with its reason, refuses it with 401: routine, logged at info level and
 * counted by reason. An unexpected failure is logged as an error, counted as a failure (what the
 * construct alarms on) and refused with 403, never let through.
 */
export function createConnectAuthorizer(
  authorize: AuthorizeConnection,
  options: ConnectAuthorizerOptions = {},
): (event: WebSocketAuthorizerEvent, context?: Context) => Promise<WebSocketAuthorizerResult> {
  const logger = options.logger ?? createLogger(AUTHORIZER_SERVICE);
  const metrics = options.metrics ?? createAuthorizerMetrics(AUTHORIZER_SERVICE);
  return async function handler(event, lambdaContext) {
    const { connectionId } = event.requestContext;
    logger.startInvocation?.(lambdaContext, { connectionId });
    let identity: Identity | undefined;
    try {
      identity = await authorize(connectRequest(event));
      if (identity) checkIdentity(identity);
    } catch (error) {
      if (error instanceof CredentialsRefused) return refuse(error.reason, error.message);
      logger.error('Authorizer failed; the connection is refused', { error });
      metrics.failed();
      return policy('anonymous', 'Deny', event.methodArn);
    }
    if (!identity) return refuse('refused', 'the authorizer returned no identity');
    metrics.allowed();
    return { ...policy(identity.principalId, 'Allow', event.methodArn), context: { ...identity.context } };

    function refuse(reason: string, detail: string): never {
      logger.info('Connection refused', { connectionId, reason, detail });
      metrics.refused(reason);
      // API Gateway's contract: this exact error is what makes it answer 401.
      throw new Error(UNAUTHORIZED);
    }
  };
}

function policy(principalId: string, effect: 'Allow' | 'Deny', resource: string): WebSocketAuthorizerResult {
  return {
    principalId,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }],
    },
  };
}

function checkIdentity(identity: Identity): void {
  if (typeof identity.principalId !== 'string' || identity.principalId === '') {
    throw new Error('An identity needs a non-empty principalId.');
  }
  for (const [key, value] of Object.entries(identity.context ?? {})) {
    if (!['string', 'number', 'boolean'].includes(typeof value)) {
      throw new Error(
        `Identity context '${key}' is a ${typeof value}: API Gateway passes on strings, numbers and booleans only.`,
      );
    }
  }
}
