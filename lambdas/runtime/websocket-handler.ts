import type { Connections } from '../delivery/connections';
import { connectionsAt, managementEndpoint } from '../delivery/connections';
import type { Logger } from '../logger';
import { createLogger } from '../logger';
import type { ErrorReplyOptions, HandlerContext, ReplyOptions, SendOptions } from '../protocol/context';
import { HandlerError } from '../protocol/errors';
import type { MessageParts } from '../protocol/message';
import { buildMessage, buildProtocolError } from '../protocol/message';
import type { MessageHandler } from '../protocol/registry';
import { HandlerRegistry } from '../protocol/registry';
import type { RohrpostRequest } from '../protocol/request';
import { parseFrame, ProtocolErrors } from '../protocol/request';
import type { ConnectRequest } from './connect';
import { ConnectionRefusedError, connectRequest } from './connect';
import { Outbox } from './outbox';
import type {
  AuthorizerContext,
  WebSocketEvent,
  WebSocketRequestContext,
  WebSocketResult,
} from './websocket-event';

export interface WebSocketHandlerOptions {
  /** The message handlers that `$default` frames are routed to by their `type`. */
  handlers: Iterable<MessageHandler>;
  /**
   * Runs on `$connect`, before the handshake completes; throw `ConnectionRefusedError` to refuse
   * the connection with its status code. @default every connection is accepted
   */
  onConnect?: (request: ConnectRequest) => void | Promise<void>;
  /** The connections that extra messages are posted to. @default the management API of the calling stage */
  connections?: (requestContext: WebSocketRequestContext) => Connections;
  /** Where failures are logged. @default a JSON logger for service `rohrpost-websocket` */
  logger?: Logger;
}

/** The Lambda handler API Gateway calls for `$connect`, `$disconnect` and `$default`. */
export type WebSocketLambdaHandler = (event: WebSocketEvent) => Promise<WebSocketResult>;

const OK: WebSocketResult = Object.freeze({ statusCode: 200 });
const NO_IDENTITY: AuthorizerContext = Object.freeze({});

/**
 * Creates the websocket Lambda's handler. Handler lookup, validation and replies follow
 * PROTOCOL.md; a handler's reply is the Lambda's return value (the route response), so a plain
 * request/reply makes no AWS call. No exception escapes: failures are logged and answered.
 */
export function createWebSocketHandler(options: WebSocketHandlerOptions): WebSocketLambdaHandler {
  const registry = new HandlerRegistry(options.handlers);
  const logger = options.logger ?? createLogger('rohrpost-websocket');
  const connectionsFor =
    options.connections ?? ((requestContext) => connectionsAt(managementEndpoint(requestContext)));

  async function handleMessage(event: WebSocketEvent): Promise<WebSocketResult> {
    const parsed = parseFrame(frameText(event));
    if (!parsed.ok) return routeResponse(buildProtocolError(parsed.error));
    const { request, typeName } = parsed;
    const handler = registry.get(typeName);
    if (!handler) {
      const error = ProtocolErrors.unknownType(typeName);
      return routeResponse(JSON.stringify(buildMessage({ id: request.id, type: request.type, error })));
    }

    const { requestContext } = event;
    const outbox = new Outbox(requestContext.connectionId, () => connectionsFor(requestContext), logger);
    const context = new Invocation(request, requestContext, outbox);
    try {
      // A synchronous handler is not awaited: every await costs a turn of the event loop.
      const handling = handler.handle(request, context);
      if (handling) await handling;
    } catch (error) {
      answerFailure(context, typeName, error);
    }

    const finishing = outbox.finish();
    const outcome = finishing instanceof Promise ? await finishing : finishing;
    if (outcome.delivered)
      return outcome.routeResponse === undefined ? OK : routeResponse(outcome.routeResponse);
    if (outcome.reason === 'gone') return OK;
    logger.error('Could not send a message to the connection', {
      type: typeName,
      connectionId: requestContext.connectionId,
      error: outcome.error,
    });
    return routeResponse(internalErrorReply(request));
  }

  async function handleConnect(event: WebSocketEvent): Promise<WebSocketResult> {
    if (!options.onConnect) return OK;
    try {
      await options.onConnect(connectRequest(event));
      return OK;
    } catch (error) {
      if (error instanceof ConnectionRefusedError) return { statusCode: error.statusCode };
      logger.error('$connect failed; the connection is refused', {
        connectionId: event.requestContext.connectionId,
        error,
      });
      return { statusCode: 500 };
    }
  }

  function answerFailure(context: Invocation, typeName: string, error: unknown): void {
    if (error instanceof HandlerError) {
      try {
        context.replyError(error.error, { data: error.data });
        return;
      } catch (serializationError) {
        error = serializationError;
      }
    }
    logger.error('Handler failed', { type: typeName, connectionId: context.connectionId, error });
    context.replyError(ProtocolErrors.internal);
  }

  return async function handler(event) {
    try {
      switch (event.requestContext.eventType) {
        case 'CONNECT':
          return await handleConnect(event);
        case 'DISCONNECT':
          return OK;
        default:
          return await handleMessage(event);
      }
    } catch (error) {
      logger.error('Unexpected failure', { routeKey: event.requestContext?.routeKey, error });
      return { statusCode: 500, body: buildProtocolError(ProtocolErrors.internal) };
    }
  };
}

/** The context one handler invocation gets; what it sends goes to the invocation's outbox. */
class Invocation implements HandlerContext {
  constructor(
    private readonly request: RohrpostRequest,
    readonly requestContext: WebSocketRequestContext,
    private readonly outbox: Outbox,
  ) {}

  get connectionId(): string {
    return this.requestContext.connectionId;
  }

  get identity(): AuthorizerContext {
    return this.requestContext.authorizer ?? NO_IDENTITY;
  }

  send(message: MessageParts, options?: SendOptions): void {
    this.outbox.enqueue(JSON.stringify(buildMessage(message)), options?.close);
  }

  reply(data?: unknown, options: ReplyOptions = {}): void {
    this.send({ id: this.request.id, type: options.type ?? this.request.type, data }, options);
  }

  replyError(error: unknown, options: ErrorReplyOptions = {}): void {
    const { id, type } = this.request;
    this.send({ id, type: options.type ?? type, error, data: options.data }, options);
  }
}

function frameText(event: WebSocketEvent): string | undefined {
  if (event.body === undefined || !event.isBase64Encoded) return event.body;
  return Buffer.from(event.body, 'base64').toString('utf8');
}

function routeResponse(body: string): WebSocketResult {
  return { statusCode: 200, body };
}

function internalErrorReply(request: RohrpostRequest): string {
  return JSON.stringify(buildMessage({ id: request.id, type: request.type, error: ProtocolErrors.internal }));
}
