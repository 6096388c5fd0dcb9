import type { WebSocketEvent, WebSocketRequestContext } from '../protocol/websocket-event';

/** The upgrade request of a new connection, as `$connect` and its authorizer see it. */
export interface ConnectRequest {
  readonly connectionId: string;
  /** Header names as the client sent them; the last value of a repeated header. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** Query string parameters; the last value of a repeated one. */
  readonly query: Readonly<Record<string, string | undefined>>;
  readonly requestContext: WebSocketRequestContext;
}

/** Refuses a connection on `$connect`: the WebSocket handshake fails with `statusCode`. */
export class ConnectionRefusedError extends Error {
  constructor(
    readonly statusCode: number = 403,
    message = 'Connection refused',
  ) {
    super(message);
    this.name = 'ConnectionRefusedError';
  }
}

export function connectRequest(event: {
  headers?: WebSocketEvent['headers'];
  queryStringParameters?: WebSocketEvent['queryStringParameters'];
  requestContext: WebSocketRequestContext;
}): ConnectRequest {
  return {
    connectionId: event.requestContext.connectionId,
    headers: event.headers ?? {},
    query: event.queryStringParameters ?? {},
    requestContext: event.requestContext,
  };
}
