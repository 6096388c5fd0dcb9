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
  /** Messages that reached a member's connection. */
  postsDelivered: 'PostsDelivered',
  /** Posts to connections that were gone (410); those members were removed. */
  postsGone: 'PostsGone',
  /**
   * Milliseconds from a change (its stream record's creation, which DynamoDB gives to the
   * second) to its last post: how late members hear of it. One value per record that posted.
   */
  notificationLatency: 'NotificationLatency',
} as const;

/** The notification function's `service`: its log lines' and its metrics' dimension. */
export const NOTIFICATIONS_SERVICE = 'rohrpost-notifications';
