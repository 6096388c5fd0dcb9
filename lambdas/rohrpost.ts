/** What handler modules need: `import { defineHandler, HandlerError } from '../rohrpost'`. */
export type { ErrorReplyOptions, HandlerContext, ReplyOptions, SendOptions } from './protocol/context';
export { HandlerError } from './protocol/errors';
export type { JsonValue, MessageParts } from './protocol/message';
export { buildMessage, generateMessageId } from './protocol/message';
export type { HandleFunction, MessageHandler } from './protocol/registry';
export { defineHandler } from './protocol/registry';
export type { RohrpostRequest } from './protocol/request';
export type { AuthorizerContext } from './runtime/websocket-event';
export type { ConnectRequest } from './runtime/connect';
export { ConnectionRefusedError } from './runtime/connect';
export type { AuthorizeConnection, Identity, IdentityValue } from './runtime/authorizer';
export { createConnectAuthorizer } from './runtime/authorizer';
export { createWebSocketHandler } from './runtime/websocket-handler';
export type { WebSocketHandlerOptions } from './runtime/websocket-handler';
