/**
 * rohrpost's deploy-side entry: what the CDK construct (lib/), the sandbox (sandbox/) and the
 * tools use of the framework: the deployment plan, the bundler, and the shapes of the events
 * and resources they emulate or create. Handler modules use the other entry, `lambdas/rohrpost`,
 * and nothing here is bundled into a function.
 */
export { bundleFunction, SDK_CHUNK, WatchedBundle } from './bundle';
export type { WatchedBundleOptions } from './bundle';
export { InputWatcher } from './input-watcher';
export { deploymentPlan, deploymentProblems, environmentOf, plannedFunction, plannedTable } from './plan';
export type {
  DeployedNames,
  DeploymentPlan,
  FunctionRole,
  PlannedAuthorizer,
  PlannedEnvironment,
  PlannedFunction,
  PlannedPermission,
  PlannedQueue,
  PlannedQueueSource,
  PlannedRoute,
  PlannedStreamSource,
  PlannedTable,
  TableKind,
} from './plan';

export type {
  AttributeType,
  ExistingTable,
  IndexDefinition,
  KeyAttribute,
  ResolvedConfig,
  TableDefinition,
} from '../config';
export type { HistorySettings, JwtSettings, LaneEnvironment } from '../environment';
export { ApiGatewayLimits } from '../delivery/limits';
export {
  AUTHORIZER_SERVICE,
  AuthorizerMetrics,
  LaneMetrics,
  LANES_SERVICE,
  MESSAGE_TYPE_DIMENSION,
  METRICS_NAMESPACE,
  NOTIFICATIONS_SERVICE,
  NotificationMetrics,
  REFUSAL_REASON_DIMENSION,
  WEBSOCKET_SERVICE,
  WebSocketMetrics,
} from '../metric-names';
export type { AuthorizerContext, WebSocketEvent, WebSocketResult } from '../protocol/websocket-event';
export type { WebSocketAuthorizerEvent, WebSocketAuthorizerResult } from '../runtime/authorizer';
export { lambdaStreamRecord } from './stream-records';
export type { LambdaRecordOptions } from './stream-records';
export { deadLetterBody, readDeadLetter } from '../delivery/dead-letter-format';
export type { DeadLetter, SetAsideReason, UndeliverableRecord } from '../delivery/dead-letter-format';
