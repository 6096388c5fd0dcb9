import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiGatewayLimits } from '../lambdas/rohrpost/deploy';
import type { RequestSignatureVerifier } from './request-signature';
import type { TokenBucket } from './request-quota';

/** What the management API reports about a live connection. */
export interface ConnectionInfo {
  readonly connectedAt: number;
  readonly lastActiveAt: number;
  readonly sourceIp: string;
  readonly userAgent?: string;
}

/** The gateway's side of the management API: what may be done to a live connection. */
export interface ManagedConnections {
  /** Sends one text message; false when there is no such connection. */
  send(connectionId: string, message: string): boolean;
  /** Closes the connection; false when there is no such connection. */
  close(connectionId: string): boolean;
  info(connectionId: string): ConnectionInfo | undefined;
}

const CONNECTIONS_PATH = /^(?:\/[^/]+)?\/@connections\/([^/?]+)\/?$/;

/**
 * Serves API Gateway's management API, `POST|GET|DELETE [/{stage}]/@connections/{id}`, with its
 * status codes and error types, so that @aws-sdk/client-apigatewaymanagementapi works unchanged.
 * Like API Gateway it answers 403 unless the request is signed (SigV4, `execute-api`) with the
 * credentials the sandbox gives its functions. With a `quota`, every request takes a token from
 * it first, and one that finds none is throttled as the account's quota throttles it. Returns
 * false, having written nothing, when the request is not for `@connections`.
 */
export function serveManagementApi(
  request: IncomingMessage,
  response: ServerResponse,
  connections: ManagedConnections,
  verifier: Pick<RequestSignatureVerifier, 'verify'>,
  quota?: Pick<TokenBucket, 'take'>,
): boolean {
  const url = request.url ?? '/';
  const queryStart = url.indexOf('?');
  const path = queryStart === -1 ? url : url.slice(0, queryStart);
  const match = CONNECTIONS_PATH.exec(path);
  if (!match) return false;
  if (quota && !quota.take()) {
    // The management API's 429, which the SDK raises as LimitExceededException and retries as throttling.
    request.resume();
    sendError(response, 429, 'LimitExceededException', 'Too Many Requests');
    return true;
  }
  const query = new URLSearchParams(queryStart === -1 ? '' : url.slice(queryStart + 1));
  readBody(request, ApiGatewayLimits.maxMessageBytes)
    .then(async (body) => {
      if (body === undefined) {
        const limit = ApiGatewayLimits.maxMessageBytes;
        return sendError(response, 413, 'PayloadTooLargeException', `Message exceeds ${limit} bytes`);
      }
      const refusal = await verifier.verify({
        method: request.method ?? 'GET',
        path,
        query,
        headers: request.headers,
        body,
      });
      if (refusal) return sendError(response, 403, refusal.errorType, refusal.message);
      const connectionId = decodeConnectionId(match[1]!);
      if (connectionId === undefined) {
        return sendError(response, 400, 'BadRequestException', 'Invalid connectionId');
      }
      handleConnectionRequest(request.method, body, response, connections, connectionId);
    })
    .catch(() => response.destroy());
  return true;
}

function handleConnectionRequest(
  method: string | undefined,
  body: Buffer,
  response: ServerResponse,
  connections: ManagedConnections,
  connectionId: string,
): void {
  switch (method) {
    case 'POST': {
      if (!connections.send(connectionId, body.toString('utf8'))) return sendGone(response);
      response.writeHead(200).end();
      return;
    }
    case 'GET': {
      const info = connections.info(connectionId);
      if (!info) return sendGone(response);
      const identity = { sourceIp: info.sourceIp, ...(info.userAgent && { userAgent: info.userAgent }) };
      const answer = {
        connectedAt: new Date(info.connectedAt).toISOString(),
        identity,
        lastActiveAt: new Date(info.lastActiveAt).toISOString(),
      };
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      return;
    }
    case 'DELETE':
      if (!connections.close(connectionId)) return sendGone(response);
      response.writeHead(204).end();
      return;
    default:
      return sendError(response, 403, 'ForbiddenException', 'Forbidden');
  }
}

/** The connection id a path segment spells, or `undefined` when its percent-escapes are malformed. */
function decodeConnectionId(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function sendGone(response: ServerResponse): void {
  sendError(response, 410, 'GoneException', null);
}

function sendError(
  response: ServerResponse,
  status: number,
  errorType: string,
  message: string | null,
): void {
  response
    .writeHead(status, { 'content-type': 'application/json', 'x-amzn-ErrorType': errorType })
    .end(JSON.stringify({ message }));
}

/** The request body, or `undefined` when it is larger than `limit` bytes. */
async function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  return size > limit ? undefined : Buffer.concat(chunks, size);
}
