import type { Context } from 'aws-lambda';
import type { Connections } from '../delivery/connections';
import { connectionsAt, managementEndpoint, signedConnectionsAt } from '../delivery/connections';
import { GoneConnections, sendToGroup } from '../delivery/fan-out';
import { Limiter } from '../delivery/limiter';
import { ApiGatewayLimits } from '../delivery/limits';
import type { Logger } from '../logger';
import { createLogger } from '../logger';
import { WEBSOCKET_SERVICE } from '../metric-names';
import type { MessageMetrics } from '../metrics';
import { createMessageMetrics } from '../metrics';
import type {
  ErrorReplyOptions,
  GroupOperations,
  HandlerContext,
  ReplyOptions,
  SendOptions,
} from '../protocol/context';
import { HandlerError } from '../protocol/errors';
import type { MessageParts } from '../protocol/message';
import { buildMessage, buildProtocolError } from '../protocol/message';
import type { MessageHandler } from '../protocol/registry';
import { HandlerRegistry } from '../protocol/registry';
import type { RohrpostRequest } from '../protocol/request';
import { parseFrame, ProtocolErrors, typeNameOf } from '../protocol/request';
import { groupHistory, membershipStore } from '../storage/clients';
import type { GroupHistory } from '../storage/group-history';
import type { MembershipStore } from '../storage/membership';
import type { ConnectRequest } from './connect';
import { ConnectionRefusedError, connectRequest } from './connect';
import { groupOperations } from './group-operations';
import type { OutboxResult } from './outbox';
import { Outbox } from './outbox';
import type {
  AuthorizerContext,
  WebSocketEvent,
  WebSocketRequestContext,
  WebSocketResult,
} from '../protocol/websocket-event';

export interface WebSocketHandlerOptions {
  /** The message handlers that `$default` frames are routed to by their `type`. */
  handlers: Iterable<MessageHandler>;
  /**
   * Runs on `$connect`, before the handshake completes; throw `ConnectionRefusedError` to refuse
   * the connection with its status code. @default every connection is accepted
   */
  onConnect?: (request: ConnectRequest) => void | Promise<void>;
  /**
   * The connections messages are posted to. @default the management API of the calling stage:
   * through the SDK client for a handler's extra messages, through `SignedConnections` for groups
   */
  connections?: (requestContext: WebSocketRequestContext) => Connections;
  /** Group membership. @default the membership table of ROHRPOST_MEMBERSHIP_TABLE */
  membership?: () => MembershipStore;
  /** The groups' history, for positions and recovery. @default the history table of ROHRPOST_HISTORY, when it is set */
  history?: () => GroupHistory | undefined;
  /** Where failures are logged. @default a JSON logger for service `rohrpost-websocket` */
  logger?: Logger;
  /** Where each message's counts go. @default an embedded-metric-format line per message */
  metrics?: MessageMetrics;
}

/** The Lambda handler API Gateway calls for `$connect`, `$disconnect` and `$default`. */
export type WebSocketLambdaHandler = (event: WebSocketEvent, context?: Context) => Promise<WebSocketResult>;

const OK: WebSocketResult = Object.freeze({ statusCode: 200 });
/** Posts in flight when a handler sends to a group. */
const GROUP_SEND_CONCURRENCY = 50;
const NO_IDENTITY: AuthorizerContext = Object.freeze({});
const MAX_MESSAGE_BYTES = ApiGatewayLimits.maxMessageBytes;

/** What handling a message came to: the route response, and whether its client got an internal error. */
interface Handled {
  readonly response: WebSocketResult;
  readonly internalError: boolean;
}

/**
 * Creates the websocket Lambda's handler. Handler lookup, validation and replies follow
 * PROTOCOL.md; a handler's reply is the Lambda's return value (the route response), so a plain
 * request/reply makes no AWS call. No exception escapes: failures are logged and answered.
 */
export function createWebSocketHandler(options: WebSocketHandlerOptions): WebSocketLambdaHandler {
  const registry = new HandlerRegistry(options.handlers);
  const logger = options.logger ?? createLogger(WEBSOCKET_SERVICE);
  const countMessage = options.metrics ?? createMessageMetrics(WEBSOCKET_SERVICE);
  const connectionsFor =
    options.connections ?? ((requestContext) => connectionsAt(managementEndpoint(requestContext)));
  const groupConnectionsFor =
    options.connections ??
    ((requestContext) => signedConnectionsAt(managementEndpoint(requestContext), GROUP_SEND_CONCURRENCY));
  const membership = options.membership ?? membershipStore;
  const history = options.history ?? groupHistory;
  const goneConnections = new GoneConnections();

  function groupsOf(requestContext: WebSocketRequestContext, outbox: Outbox): GroupOperations {
    return groupOperations({
      connectionId: requestContext.connectionId,
      membership: membership(),
      history: history(),
      enqueue: (payload) => outbox.enqueue(payload),
      fanOut: (group, payload) =>
        sendToGroup(group, payload, {
          membership: membership(),
          connections: groupConnectionsFor(requestContext),
          limiter: new Limiter(GROUP_SEND_CONCURRENCY),
          goneConnections,
          logger,
        }),
    });
  }

  /**
   * Handles one message and counts it, by its type, as handled and, if its client got an
   * internal error, failed. Synchronous as long as its handler is: every promise and await
   * costs a turn of the event loop, and a `ping` costs little more than that.
   */
  function handleMessage(
    event: WebSocketEvent,
    lambdaContext: Context | undefined,
  ): WebSocketResult | Promise<WebSocketResult> {
    const parsed = parseFrame(frameText(event));
    const { requestContext } = event;
    logger.startInvocation?.(lambdaContext, {
      connectionId: requestContext.connectionId,
      messageType: parsed.ok ? parsed.typeName : undefined,
    });
    // Only registered types become dimension values: a client cannot make up metrics.
    if (!parsed.ok) return counted('(invalid)', () => routeResponse(buildProtocolError(parsed.error)));
    const { request, typeName } = parsed;
    const handler = registry.get(typeName);
    if (!handler) {
      return counted('(unknown)', () =>
        routeResponse(errorReply(request, ProtocolErrors.unknownType(typeName))),
      );
    }
    let handled: Handled | Promise<Handled>;
    try {
      handled = runHandler(handler, request, typeName, requestContext);
    } catch (error) {
      countMessage(typeName, true);
      throw error;
    }
    if (!(handled instanceof Promise)) {
      countMessage(typeName, handled.internalError);
      return handled.response;
    }
    return handled.then(
      ({ response, internalError }) => (countMessage(typeName, internalError), response),
      (error: unknown) => {
        countMessage(typeName, true);
        throw error;
      },
    );
  }

  /** A message no handler saw, counted under `metricType`. */
  function counted(metricType: string, answer: () => WebSocketResult): WebSocketResult {
    let internalError = true;
    try {
      const response = answer();
      internalError = false;
      return response;
    } finally {
      countMessage(metricType, internalError);
    }
  }

  function runHandler(
    handler: MessageHandler,
    request: RohrpostRequest,
    typeName: string,
    requestContext: WebSocketRequestContext,
  ): Handled | Promise<Handled> {
    const outbox = new Outbox(requestContext.connectionId, () => connectionsFor(requestContext), logger);
    const context = new Invocation(request, requestContext, outbox, logger, groupsOf);
    let handling: void | Promise<void>;
    try {
      handling = handler.handle(request, context);
    } catch (error) {
      return finish(outbox, request, context.connectionId, answerFailure(context, typeName, error));
    }
    if (!handling) return finish(outbox, request, context.connectionId, false);
    return settle(handling, context, outbox, request, typeName);
  }

  /** Waits for an asynchronous handler, then finishes as `runHandler` does. */
  async function settle(
    handling: Promise<void>,
    context: Invocation,
    outbox: Outbox,
    request: RohrpostRequest,
    typeName: string,
  ): Promise<Handled> {
    let internalError = false;
    try {
      await handling;
    } catch (error) {
      internalError = answerFailure(context, typeName, error);
    }
    return finish(outbox, request, context.connectionId, internalError);
  }

  /** The route response once the outbox is done; synchronous when nothing had to be posted. */
  function finish(
    outbox: Outbox,
    request: RohrpostRequest,
    connectionId: string,
    internalError: boolean,
  ): Handled | Promise<Handled> {
    const finishing = outbox.finish();
    return finishing instanceof Promise
      ? finishing.then((outcome) => handledOf(outcome, request, connectionId, internalError))
      : handledOf(finishing, request, connectionId, internalError);
  }

  function handledOf(
    outcome: OutboxResult,
    request: RohrpostRequest,
    connectionId: string,
    internalError: boolean,
  ): Handled {
    if (outcome.delivered) {
      const response = outcome.routeResponse === undefined ? OK : routeResponse(outcome.routeResponse);
      return { response, internalError };
    }
    if (outcome.reason === 'gone') return { response: OK, internalError };
    logger.error('Could not send a message to the connection', {
      type: typeNameOf(request.type),
      connectionId,
      error: outcome.error,
    });
    return { response: routeResponse(errorReply(request, ProtocolErrors.internal)), internalError: true };
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

  async function handleDisconnect(event: WebSocketEvent): Promise<WebSocketResult> {
    const { connectionId } = event.requestContext;
    try {
      await membership().leaveAll(connectionId);
    } catch (error) {
      // API Gateway ignores the result; the memberships' TTL removes what is left.
      logger.error('Could not remove a closed connection from its groups', { connectionId, error });
    }
    return OK;
  }

  /** Answers a handler's failure; true when that answer is an internal error. */
  function answerFailure(context: Invocation, typeName: string, error: unknown): boolean {
    if (error instanceof HandlerError) {
      try {
        context.replyError(error.error, { data: error.data });
        return false;
      } catch (serializationError) {
        error = serializationError;
      }
    }
    logger.error('Handler failed', { type: typeName, connectionId: context.connectionId, error });
    context.replyError(ProtocolErrors.internal);
    return true;
  }

  return async function handler(event, lambdaContext) {
    try {
      switch (event.requestContext.eventType) {
        case 'CONNECT':
          logger.startInvocation?.(lambdaContext, { connectionId: event.requestContext.connectionId });
          return await handleConnect(event);
        case 'DISCONNECT':
          logger.startInvocation?.(lambdaContext, { connectionId: event.requestContext.connectionId });
          return await handleDisconnect(event);
        default: {
          const handled = handleMessage(event, lambdaContext);
          return handled instanceof Promise ? await handled : handled;
        }
      }
    } catch (error) {
      logger.error('Unexpected failure', { routeKey: event.requestContext?.routeKey, error });
      return { statusCode: 500, body: buildProtocolError(ProtocolErrors.internal) };
    }
  };
}

/** The context one handler invocation gets; what it sends goes to the invocation's outbox. */
class Invocation implements HandlerContext {
  private groupOperations: GroupOperations | undefined;

  constructor(
    private readonly request: RohrpostRequest,
    readonly requestContext: WebSocketRequestContext,
    private readonly outbox: Outbox,
    readonly logger: Logger,
    private readonly createGroups: (
      requestContext: WebSocketRequestContext,
      outbox: Outbox,
    ) => GroupOperations,
  ) {}

  get groups(): GroupOperations {
    this.groupOperations ??= this.createGroups(this.requestContext, this.outbox);
    return this.groupOperations;
  }

  get connectionId(): string {
    return this.requestContext.connectionId;
  }

  get identity(): AuthorizerContext {
    return this.requestContext.authorizer ?? NO_IDENTITY;
  }

  /** Throws a `HandlerError` for a message API Gateway would not deliver, so the client hears of it. */
  send(message: MessageParts, options?: SendOptions): void {
    const payload = JSON.stringify(buildMessage(message));
    // UTF-8 takes at most 3 bytes per UTF-16 code unit: most messages need no count.
    if (payload.length * 3 > MAX_MESSAGE_BYTES) this.refuseIfOverLimit(payload);
    this.outbox.enqueue(payload, options?.close);
  }

  /** Logs and throws a `HandlerError` when `payload` is over API Gateway's message limit. */
  private refuseIfOverLimit(payload: string): void {
    const bytes = Buffer.byteLength(payload);
    if (bytes <= MAX_MESSAGE_BYTES) return;
    this.logger.warn("A message over API Gateway's 128 KB limit was not sent", {
      type: typeNameOf(this.request.type),
      connectionId: this.connectionId,
      bytes,
    });
    throw new HandlerError(ProtocolErrors.messageTooLarge);
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

/** A reply with the request's id and type and an error. */
function errorReply(request: RohrpostRequest, error: string): string {
  return JSON.stringify(buildMessage({ id: request.id, type: request.type, error }));
}
