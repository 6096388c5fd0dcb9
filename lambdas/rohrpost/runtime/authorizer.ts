import type { Context } from 'aws-lambda';
import type { Logger } from '../logger';
import { createLogger } from '../logger';
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
 * Creates a `$connect` REQUEST authorizer from a function that verifies credentials (a token
 * in the query string, usually). An identity allows the connection; `undefined` refuses it
 * with 401; an unexpected failure is logged and refused with 403, never let through.
 */
export function createConnectAuthorizer(
  authorize: AuthorizeConnection,
  options: { logger?: Logger } = {},
): (event: WebSocketAuthorizerEvent, context?: Context) => Promise<WebSocketAuthorizerResult> {
  const logger = options.logger ?? createLogger('rohrpost-authorizer');
  return async function handler(event, lambdaContext) {
    logger.startInvocation?.(lambdaContext, { connectionId: event.requestContext.connectionId });
    let identity: Identity | undefined;
    try {
      identity = await authorize(connectRequest(event));
      if (identity) checkIdentity(identity);
    } catch (error) {
      logger.error('Authorizer failed; the connection is refused', { error });
      return policy('anonymous', 'Deny', event.methodArn);
    }
    // API Gateway's contract: this exact error is what makes it answer 401.
    if (!identity) throw new Error(UNAUTHORIZED);
    return { ...policy(identity.principalId, 'Allow', event.methodArn), context: { ...identity.context } };
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
