/**
 * rohrpost's public entry. Handler modules, notification hooks and the function entries import
 * what they need from here (`import { defineHandler, HandlerError } from '../rohrpost'`), and
 * rohrpost.config.ts its `defineConfig`. The CDK construct, the sandbox and the tools use
 * `./deploy` instead.
 */
export type {
  ErrorReplyOptions,
  GroupOperations,
  HandlerContext,
  HandlerLogger,
  ReplyOptions,
  SendOptions,
} from './protocol/context';
export { HandlerError } from './protocol/errors';
export type { JsonValue, MessageParts } from './protocol/message';
export { buildMessage, generateMessageId } from './protocol/message';
export type { HandleFunction, MessageHandler } from './protocol/registry';
export { defineHandler, defineHandlers } from './protocol/registry';
export type { RohrpostRequest } from './protocol/request';
export type { AuthorizerContext } from './protocol/websocket-event';
export type { ConnectRequest } from './runtime/connect';
export { ConnectionRefusedError } from './runtime/connect';
export type { AuthorizeConnection, Identity, IdentityValue } from './runtime/authorizer';
export { createConnectAuthorizer } from './runtime/authorizer';
export { createWebSocketHandler } from './runtime/websocket-handler';
export type { WebSocketHandlerOptions } from './runtime/websocket-handler';
export type { AuthorizeSubscription, SubscriptionRequest } from './runtime/subscriptions';
export { SubscriptionErrors, subscriptionHandlers } from './runtime/subscriptions';
export { conditionFailed, dynamoDb, tableName } from './storage/clients';
export type { FanOutResult } from './delivery/fan-out';
export type { Change, ChangeType } from './changes/change';
export type { NotificationHooks } from './changes/notices';
export { defineNotificationHooks } from './changes/notices';
export type { GroupPosition } from './protocol/position';
export { createNotificationHandler } from './runtime/notification-handler';

// The configuration, which rohrpost.config.ts declares (the CDK construct and the sandbox read
// it through the deploy-side entry, ./deploy).
export type {
  ApplicationTableConfig,
  AuthorizerConfig,
  FunctionConfig,
  JwtConfig,
  NotificationRule,
  NotificationsConfig,
  ResolvedConfig,
  RohrpostConfig,
  TableDefinition,
} from './config';
export { defineConfig } from './config';
export type { LanesConfig } from './lanes-config';
export type { WebSocketAuthorizerEvent, WebSocketAuthorizerResult } from './runtime/authorizer';
export type { WebSocketEvent, WebSocketResult } from './protocol/websocket-event';
