import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent, Context } from 'aws-lambda';
import { UndeliverableChangeError } from '../changes/change';
import type { NotificationHooks } from '../changes/notices';
import type { ResolvedConfig } from '../config';
import type { Connections } from '../delivery/connections';
import { signedConnectionsAt } from '../delivery/connections';
import type { DeadLetters } from '../delivery/dead-letters';
import type * as DeadLettersModule from '../delivery/dead-letters';
import { GoneConnections } from '../delivery/fan-out';
import { Limiter } from '../delivery/limiter';
import { ApiGatewayLimits } from '../delivery/limits';
import { PostTally } from '../delivery/post-tally';
import { EnvironmentVariables, readEnvironment, requireEnvironment } from '../environment';
import type { Logger } from '../logger';
import type { MetricsRecorder } from '../metrics';
import { NOTIFICATIONS_SERVICE, NotificationMetrics } from '../metric-names';
import { createMetrics } from '../metrics';
import { createLogger } from '../logger';
import { RecentSet } from '../recent-set';
import { configuredTableNames, membershipStore, sequencer } from '../storage/clients';
import type { MembershipStore } from '../storage/membership';
import type { DeliveredMessage, Sequencer } from '../storage/sequencer';
import { RecordNotifier } from './record-notifier';

export interface NotificationHandlerOptions {
  /** The project's configuration: which tables notify, and how. */
  readonly config: ResolvedConfig;
  /** Code that decides groups and objects, per table. @default none */
  readonly hooks?: readonly NotificationHooks[];
  /**
   * The tables whose streams feed the function: table name to label.
   * @default the inverse of ROHRPOST_TABLE_NAMES
   */
  readonly tableLabels?: () => Readonly<Record<string, string>>;
  /** @default the membership table of ROHRPOST_MEMBERSHIP_TABLE */
  readonly membership?: () => MembershipStore;
  /** @default `SignedConnections` to the management API at ROHRPOST_MANAGEMENT_ENDPOINT */
  readonly connections?: () => Connections;
  /**
   * Places each message in its group's history; `undefined` sends messages without `seq`.
   * @default the history table of ROHRPOST_HISTORY, when it is set
   */
  readonly sequencer?: () => Sequencer | undefined;
  /**
   * Where changes that can never be notified go, at once; without it they are retried like any
   * failure. @default the queue at ROHRPOST_DEAD_LETTER_QUEUE_URL, when it is set
   */
  readonly deadLetters?: () => DeadLetters | undefined;
  /** Largest message; a larger notification is sent as keys only. @default API Gateway's 128 KB */
  readonly payloadLimitBytes?: number;
  /** @default a JSON logger for service `rohrpost-notifications` */
  readonly logger?: Logger;
  /** Where the batch's counts go. @default Powertools' Metrics, as embedded-metric-format lines */
  readonly metrics?: MetricsRecorder;
}

export type NotificationLambdaHandler = (
  event: DynamoDBStreamEvent,
  context?: Context,
) => Promise<DynamoDBBatchResponse>;

/**
 * Creates the notification function: DynamoDB stream records in, `subscription-update`
 * messages out to every member of each group a change concerns. Records of one item are
 * handled in order, different items in parallel.
 *
 * - A record that fails, and every later record of the same item, are reported as batch item
 *   failures, so that Lambda retries them in order and finally sends them to the dead-letter
 *   queue. Nothing is dropped silently.
 * - A change that can never be notified (a group name that is not one, a message too large
 *   even as keys) goes to the dead-letter queue at once, with its reason.
 * - Lambda retries a batch from its first failed record, so records after it that were
 *   delivered come again: the history remembers them, and they are not sent twice.
 */
export function createNotificationHandler(options: NotificationHandlerOptions): NotificationLambdaHandler {
  const { config } = options;
  const logger = options.logger ?? createLogger(NOTIFICATIONS_SERVICE);
  const metrics = options.metrics ?? createMetrics(NOTIFICATIONS_SERVICE);
  const history = options.sequencer ?? sequencer;
  const deadLetters = options.deadLetters ?? deadLettersFromEnvironment;
  const notifier = new RecordNotifier({
    config,
    hooks: options.hooks ?? [],
    tableLabels: options.tableLabels ?? labelsFromEnvironment,
    membership: options.membership ?? membershipStore,
    connections:
      options.connections ??
      (() =>
        signedConnectionsAt(
          requireEnvironment(EnvironmentVariables.managementEndpoint),
          config.notifications.concurrency,
        )),
    sequencer: history,
    payloadLimitBytes: options.payloadLimitBytes ?? ApiGatewayLimits.maxMessageBytes,
    goneConnections: new GoneConnections(),
    logger,
  });
  // A dead letter is sent once per instance, though a retried batch brings its record again.
  const deadLettered = new RecentSet<string>();

  /** Sets an undeliverable record aside; false when there is nowhere to, and it must be retried instead. */
  async function setAside(record: DynamoDBRecord, error: UndeliverableChangeError): Promise<boolean> {
    const queue = deadLetters();
    if (!queue) return false;
    const recordId = notifier.recordId(record);
    if (deadLettered.has(recordId)) return true;
    try {
      await queue.send({ reason: error.message, table: notifier.labelOf(record) ?? '', record });
    } catch (sendError) {
      logger.error('Could not send an undeliverable change to the dead-letter queue; it will be retried', {
        eventID: record.eventID,
        error: sendError,
      });
      return false;
    }
    deadLettered.add(recordId);
    logger.error('A change can never be notified: sent to the dead-letter queue', {
      eventID: record.eventID,
      sequenceNumber: sequenceNumber(record),
      keys: record.dynamodb?.Keys,
      reason: error.message,
    });
    return true;
  }

  /** How long after the change its first and its last member heard of it. */
  function recordLatency(record: DynamoDBRecord, posts: PostTally): void {
    const createdAt = record.dynamodb?.ApproximateCreationDateTime;
    if (createdAt === undefined || posts.firstDeliveredAt === undefined) return;
    const since = (at: number) => Math.max(0, at - createdAt * 1000);
    metrics.milliseconds(NotificationMetrics.firstPostLatency, since(posts.firstDeliveredAt));
    metrics.milliseconds(NotificationMetrics.lastPostLatency, since(posts.lastDeliveredAt!));
  }

  return async function handler(event, lambdaContext) {
    logger.startInvocation?.(lambdaContext, {});
    const limiter = new Limiter(config.notifications.concurrency);
    const failures: DynamoDBRecord[] = [];
    let setAsideCount = 0;
    const posts = new PostTally();
    const delivered: Array<{ readonly record: DynamoDBRecord; readonly messages: DeliveredMessage[] }> = [];
    await Promise.all(
      [...recordsByItem(event.Records ?? []).values()].map(async (records) => {
        for (const [index, record] of records.entries()) {
          const outcome = await notifier.notify(record, limiter);
          if (outcome.delivered.length > 0) delivered.push({ record, messages: outcome.delivered });
          posts.add(outcome.posts);
          recordLatency(record, outcome.posts);
          const { error } = outcome;
          if (error === undefined) continue;
          if (error instanceof UndeliverableChangeError && (await setAside(record, error))) {
            setAsideCount++;
            continue;
          }
          const later = records.slice(index);
          logger.error('A change could not be notified; it will be retried', {
            eventID: record.eventID,
            sequenceNumber: sequenceNumber(record),
            keys: record.dynamodb?.Keys,
            heldBack: later.length - 1,
            error,
          });
          failures.push(...later);
          return;
        }
      }),
    );
    await rememberRedelivered(failures, delivered);
    // A failed record is no Lambda error: without this count, nothing would alarm while it is retried.
    metrics.count(NotificationMetrics.recordsReceived, event.Records?.length ?? 0);
    metrics.count(NotificationMetrics.recordsFailed, failures.length);
    metrics.count(NotificationMetrics.recordsDeadLettered, setAsideCount);
    metrics.count(NotificationMetrics.notificationsSent, posts.messages);
    metrics.count(NotificationMetrics.postsDelivered, posts.delivered);
    metrics.count(NotificationMetrics.postsGone, posts.gone);
    metrics.count(NotificationMetrics.postsThrottled, posts.throttled);
    metrics.count(NotificationMetrics.postsFailed, posts.failed);
    metrics.publish();
    return { batchItemFailures: failures.map((record) => ({ itemIdentifier: sequenceNumber(record) })) };
  };

  /**
   * Lambda retries the batch from its first failed record: the messages of the records from
   * there on that reached every member are remembered, so that the retry does not send them again.
   */
  async function rememberRedelivered(
    failures: readonly DynamoDBRecord[],
    delivered: ReadonlyArray<{ readonly record: DynamoDBRecord; readonly messages: DeliveredMessage[] }>,
  ): Promise<void> {
    const store = history();
    if (failures.length === 0 || !store) return;
    const retriedFrom = failures
      .map((record) => BigInt(sequenceNumber(record)))
      .reduce((a, b) => (a < b ? a : b));
    const messages = delivered
      .filter(({ record }) => BigInt(sequenceNumber(record)) >= retriedFrom)
      .flatMap(({ messages: sent }) => sent);
    if (messages.length === 0) return;
    try {
      await store.markDelivered(messages);
    } catch (error) {
      // Not a failure: the retry sends them again, identical, and clients drop the duplicates.
      logger.warn('Could not remember delivered messages; the retry sends them again', {
        messages: messages.length,
        error,
      });
    }
  }
}

/** Records grouped by the item they change, each group in stream order. */
function recordsByItem(records: readonly DynamoDBRecord[]): Map<string, DynamoDBRecord[]> {
  const byItem = new Map<string, DynamoDBRecord[]>();
  for (const record of records) {
    const item = `${record.eventSourceARN} ${JSON.stringify(record.dynamodb?.Keys ?? record.eventID)}`;
    const list = byItem.get(item);
    if (list) list.push(record);
    else byItem.set(item, [record]);
  }
  return byItem;
}

function sequenceNumber(record: DynamoDBRecord): string {
  return record.dynamodb?.SequenceNumber ?? '';
}

function labelsFromEnvironment(): Record<string, string> {
  return Object.fromEntries(Object.entries(configuredTableNames()).map(([label, name]) => [name, label]));
}

let queueFromEnvironment: { queue?: DeadLetters } | undefined;

function deadLettersFromEnvironment(): DeadLetters | undefined {
  if (!queueFromEnvironment) {
    const url = readEnvironment(EnvironmentVariables.deadLetterQueueUrl);
    if (url === undefined) queueFromEnvironment = {};
    else {
      // Required here, not at load: the SQS client is only needed for a change that cannot be sent.
      const { SqsDeadLetters } = require('../delivery/dead-letters') as typeof DeadLettersModule;
      queueFromEnvironment = { queue: new SqsDeadLetters(url) };
    }
  }
  return queueFromEnvironment.queue;
}
