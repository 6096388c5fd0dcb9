import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiGatewayLimits } from '../lambdas/delivery/limits';

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

const CONNECTIONS_PATH = /^(?:\/[^/]+)?\/@connections\/([^/?]+)\/?(?:\?.*)?$/;

/**
 * Serves API Gateway's management API, `POST|GET|DELETE [/{stage}]/@connections/{id}`, with its
 * status codes and error types, so that @aws-sdk/client-apigatewaymanagementapi works unchanged.
 * Returns false, having written nothing, when the request is not for `@connections`.
 */
export function serveManagementApi(
  request: IncomingMessage,
  response: ServerResponse,
  connections: ManagedConnections,
): boolean {
  const match = CONNECTIONS_PATH.exec(request.url ?? '');
  if (!match) return false;
  handleConnectionRequest(request, response, connections, decodeURIComponent(match[1]!));
  return true;
}

function handleConnectionRequest(
  request: IncomingMessage,
  response: ServerResponse,
  connections: ManagedConnections,
  connectionId: string,
): void {
  switch (request.method) {
    case 'POST':
      return void readBody(request, ApiGatewayLimits.maxMessageBytes).then(
        (body) => {
          if (body === undefined) {
            const limit = ApiGatewayLimits.maxMessageBytes;
            return sendError(response, 413, 'PayloadTooLargeException', `Message exceeds ${limit} bytes`);
          }
          if (!connections.send(connectionId, body.toString('utf8'))) return sendGone(response);
          response.writeHead(200).end();
        },
        () => response.destroy(),
      );
    case 'GET': {
      const info = connections.info(connectionId);
      if (!info) return sendGone(response);
      const identity = { sourceIp: info.sourceIp, ...(info.userAgent && { userAgent: info.userAgent }) };
      const body = {
        connectedAt: new Date(info.connectedAt).toISOString(),
        identity,
        lastActiveAt: new Date(info.lastActiveAt).toISOString(),
      };
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
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
