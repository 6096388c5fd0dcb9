import type {
  APIGatewayEventWebsocketRequestContextV2,
  APIGatewayProxyWebsocketEventV2WithRequestContext,
} from 'aws-lambda';

/** What a `$connect` authorizer returned, as API Gateway passes it on with every later event. */
export type AuthorizerContext = Readonly<Record<string, unknown>> & { readonly principalId?: string };

/**
 * API Gateway's request context for WebSocket events, with the fields it sends that
 * @types/aws-lambda leaves out.
 */
export interface WebSocketRequestContext extends APIGatewayEventWebsocketRequestContextV2 {
  identity?: { sourceIp: string; userAgent?: string };
  authorizer?: AuthorizerContext;
  disconnectStatusCode?: number;
  disconnectReason?: string;
}

/** The event API Gateway sends to the `$connect`, `$disconnect` and `$default` routes' Lambda. */
export interface WebSocketEvent extends APIGatewayProxyWebsocketEventV2WithRequestContext<WebSocketRequestContext> {
  /** Sent on `$connect` and `$disconnect` only. */
  headers?: Record<string, string | undefined>;
  multiValueHeaders?: Record<string, string[] | undefined>;
}

/** What the Lambda returns: for `$default`, `body` is the route response sent to the client. */
export interface WebSocketResult {
  statusCode: number;
  body?: string;
  headers?: Record<string, string>;
}
