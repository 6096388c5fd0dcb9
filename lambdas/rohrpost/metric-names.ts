/** Metric names and dimensions, shared by the functions that emit them and the construct that alarms on them. */

/** The CloudWatch namespace of every rohrpost metric. */
export const METRICS_NAMESPACE = 'rohrpost';

/** What the notification function counts per batch, as CloudWatch metrics (dimension: `service`). */
export const NotificationMetrics = {
  /** Records handed to the function. */
  recordsReceived: 'RecordsReceived',
  /** Records reported as batch item failures: Lambda retries them. */
  recordsFailed: 'RecordsFailed',
  /** Records that can never be notified, sent to the dead-letter queue at once. */
  recordsDeadLettered: 'RecordsDeadLettered',
  /** Subscription updates sent to a group, one per group a change concerns (not again when retried after delivery). */
  notificationsSent: 'NotificationsSent',
  /** Of those, the ones handed to the lanes of big groups, which post them (LaneMetrics). */
  notificationsLaned: 'NotificationsLaned',
  /** Messages that reached a member's connection. */
  postsDelivered: 'PostsDelivered',
  /** Posts to connections that were gone (410); those members were removed. */
  postsGone: 'PostsGone',
  /** Posts the management API still throttled (429) after the retries: API Gateway's limit. */
  postsThrottled: 'PostsThrottled',
  /** Posts that failed otherwise (5xx, network, a refused signature): their records are retried. */
  postsFailed: 'PostsFailed',
  /**
   * Milliseconds from a change (its stream record's creation, which DynamoDB gives to the
   * second) to its first delivered post: when the quickest member heard of it.
   */
  firstPostLatency: 'FirstPostLatency',
  /** Milliseconds from a change to its last delivered post: how late the last member heard of it. */
  lastPostLatency: 'LastPostLatency',
} as const;

/** The notification function's `service`: its log lines' and its metrics' dimension. */
export const NOTIFICATIONS_SERVICE = 'rohrpost-notifications';

/**
 * What the websocket function counts per message, by the message's `type` (the dimension
 * `type`: a registered type, `(unknown)` for a type without a handler, `(invalid)` for a frame
 * that is no rohrpost message) and over all types (dimension `service` alone).
 */
export const WebSocketMetrics = {
  /** Messages answered, errors included. */
  messagesHandled: 'MessagesHandled',
  /** Messages whose client got an internal error: the handler threw, or its reply could not be sent. */
  handlerErrors: 'HandlerErrors',
} as const;

/** The dimension that tells the websocket function's figures apart by message type. */
export const MESSAGE_TYPE_DIMENSION = 'type';

/** The websocket function's `service`: its log lines' and its metrics' dimension. */
export const WEBSOCKET_SERVICE = 'rohrpost-websocket';

/**
 * What a `$connect` authorizer counts per connection attempt (dimension `service`; refusals also
 * by `reason`): a refused token is routine, a check that could not be made is a failure.
 */
export const AuthorizerMetrics = {
  connectionsAllowed: 'ConnectionsAllowed',
  /** Connections refused for their credentials (401): no token, an expired or forged one... */
  connectionsRefused: 'ConnectionsRefused',
  /** Checks that could not be made, the issuer's keys unreachable or an exception (403): the alarm's business. */
  authorizerFailures: 'AuthorizerFailures',
} as const;

/** The dimension that tells refusals apart: a fixed set of reasons, never client input. */
export const REFUSAL_REASON_DIMENSION = 'reason';

/** The authorizers' `service`: their log lines' and their metrics' dimension. */
export const AUTHORIZER_SERVICE = 'rohrpost-authorizer';

/** What the lane workers count per invocation (dimension `service`). */
export const LaneMetrics = {
  /** Lane runs: wake-ups a worker acted on. */
  lanesRun: 'LanesRun',
  /** Lane runs that failed and are retried (a new lane waiting for its parent, a read or write that failed). */
  laneFailures: 'LaneFailures',
  /** Messages a lane sent to its shard's members. */
  messagesSent: 'LaneMessagesSent',
  postsDelivered: 'PostsDelivered',
  postsGone: 'PostsGone',
  /** Posts the management API still throttled (429) after the retries: those members were left behind. */
  postsThrottled: 'PostsThrottled',
  /** Posts that failed otherwise after the retries: those members were left behind. */
  postsFailed: 'PostsFailed',
  /** Splits of a group's shards done. */
  splits: 'ShardSplits',
} as const;

/** The lane workers' `service`: their log lines' and their metrics' dimension. */
export const LANES_SERVICE = 'rohrpost-lanes';
