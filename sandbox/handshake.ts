import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AuthorizerContext, WebSocketAuthorizerResult } from '../lambdas/rohrpost/deploy';
import { policyAllows } from './authorizer-policy';
import type { ConnectionDetails, HandshakeDetails } from './events';
import { authorizerEvent } from './events';
import type { GatewayReporter, Invokable } from './gateway';
import { FunctionError } from './lambda/function-error';

/** A REQUEST authorizer run before `$connect`. */
export interface HandshakeAuthorizer {
  readonly function: Invokable;
  readonly identitySource: readonly string[];
}

type Authorization =
  | { readonly allowed: true; readonly context: AuthorizerContext }
  | { readonly allowed: false; readonly status: number };

/**
 * Runs a `$connect` REQUEST authorizer as API Gateway does: 401 without the identity source or
 * on `Unauthorized`, 403 when the policy denies, 500 for a result API Gateway cannot use.
 */
export async function authorizeHandshake(
  authorizer: HandshakeAuthorizer,
  details: ConnectionDetails,
  handshake: HandshakeDetails,
  context: { readonly region: string; readonly reporter: Pick<GatewayReporter, 'failed'> },
): Promise<Authorization> {
  if (!authorizer.identitySource.every((source) => identityValue(source, handshake))) {
    return { allowed: false, status: 401 };
  }
  const methodArn = `arn:aws:execute-api:${context.region}:000000000000:${details.apiId}/${details.stage}/$connect`;
  const started = Date.now();
  let result: WebSocketAuthorizerResult;
  try {
    result = (await authorizer.function.invoke(
      authorizerEvent(details, handshake, methodArn),
    )) as WebSocketAuthorizerResult;
  } catch (error) {
    const unauthorized =
      error instanceof FunctionError &&
      error.reason === 'handler-error' &&
      /: Unauthorized$/.test(error.message);
    if (!unauthorized) context.reporter.failed(`authorizer failed: ${(error as Error).message}`);
    return { allowed: false, status: unauthorized ? 401 : 500 };
  }
  const integrationLatency = Date.now() - started;
  if (!result || typeof result.principalId !== 'string') {
    context.reporter.failed('authorizer returned no principalId: API Gateway answers 500');
    return { allowed: false, status: 500 };
  }
  const badKey = Object.entries(result.context ?? {}).find(
    ([, v]) => !['string', 'number', 'boolean'].includes(typeof v),
  );
  if (badKey) {
    context.reporter.failed(
      `authorizer context '${badKey[0]}' is not a string, number or boolean: API Gateway answers 500`,
    );
    return { allowed: false, status: 500 };
  }
  if (!policyAllows(result.policyDocument, methodArn)) return { allowed: false, status: 403 };
  return {
    allowed: true,
    context: { ...result.context, principalId: result.principalId, integrationLatency },
  };
}

/** Ends a handshake with an HTTP error, as API Gateway refuses a connection. */
export function refuseHandshake(socket: Duplex, status: number): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ message: STATUS_CODES[status] ?? 'Error' });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Connection: close\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** The upgrade request's headers (as the client spelled them) and query, plus API Gateway's own headers. */
export function handshakeOf(request: IncomingMessage, socket: Socket): HandshakeDetails {
  const headers: Record<string, string[]> = {};
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i]!;
    (headers[name] ??= []).push(request.rawHeaders[i + 1]!);
  }
  headers['X-Forwarded-For'] ??= [socket.remoteAddress ?? '127.0.0.1'];
  headers['X-Forwarded-Port'] ??= [String(socket.localPort ?? '')];
  headers['X-Forwarded-Proto'] ??= ['http'];
  const query: Record<string, string[]> = {};
  for (const [name, value] of new URL(request.url ?? '/', 'http://sandbox').searchParams) {
    (query[name] ??= []).push(value);
  }
  return { headers, query };
}

/** The value an identity source (`route.request.querystring.token`, `route.request.header.Auth`) names. */
function identityValue(source: string, handshake: HandshakeDetails): string | undefined {
  const [, where, name] = /^route\.request\.(querystring|header)\.(.+)$/.exec(source) ?? [];
  if (!where || !name) return undefined;
  if (where === 'querystring') return handshake.query[name]?.at(-1) || undefined;
  const header = Object.keys(handshake.headers).find((key) => key.toLowerCase() === name.toLowerCase());
  return (header && handshake.headers[header]?.at(-1)) || undefined;
}
