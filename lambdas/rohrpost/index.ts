/**
 * rohrpost's public entry. Handler modules, notification hooks and the function entries import
 * what they need from here (`import { defineHandler, HandlerError } from '../rohrpost'`); so do
 * rohrpost.config.ts, the CDK construct and the sandbox, from the second part below.
 */
export type {
  ErrorReplyOptions,
  GroupOperations,
  HandlerContext,
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

// The configuration, and what the CDK construct and the sandbox build from it.
export type {
  ApplicationTableConfig,
  AttributeType,
  KeyAttribute,
  ResolvedConfig,
  ResolvedFunction,
  TableDefinition,
} from './config';
export {
  defineConfig,
  handlerTableLabels,
  historySettings,
  keepsHistory,
  notifyingTableLabels,
} from './config';
export type { HistorySettings, JwtSettings } from './environment';
export { functionEnvironment } from './environment';
export { ApiGatewayLimits } from './delivery/limits';
export { historyTableDefinition } from './storage/history-table';
export { MembershipTable, membershipTableDefinition } from './storage/membership-table';
export {
  MESSAGE_TYPE_DIMENSION,
  METRICS_NAMESPACE,
  NOTIFICATIONS_SERVICE,
  NotificationMetrics,
  WEBSOCKET_SERVICE,
  WebSocketMetrics,
} from './metric-names';
export type { WebSocketAuthorizerEvent, WebSocketAuthorizerResult } from './runtime/authorizer';
export type { WebSocketEvent, WebSocketResult } from './protocol/websocket-event';
