import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { UndeliverableChangeError } from '../changes/change';
import type { NotificationHooks } from '../changes/notices';
import type { ResolvedConfig } from '../config';
import type { Connections } from '../delivery/connections';
import { signedConnectionsAt } from '../delivery/connections';
import { DEAD_LETTER_RETENTION_SECONDS } from '../delivery/dead-letter-format';
import type { UndeliverableRecord } from '../delivery/dead-letter-format';
import type { DeadLetters } from '../delivery/dead-letters';
import type * as DeadLettersModule from '../delivery/dead-letters';
import { GoneConnections } from '../delivery/fan-out';
import { Limiter } from '../delivery/limiter';
import { ApiGatewayLimits } from '../delivery/limits';
import { PostTally } from '../delivery/post-tally';
import { EnvironmentVariables, readEnvironment, requireEnvironment } from '../environment';
import type { Logger } from '../logger';
import { createLogger } from '../logger';
import type { MetricsRecorder } from '../metrics';
import { createMetrics } from '../metrics';
import { NOTIFICATIONS_SERVICE, NotificationMetrics } from '../metric-names';
import { RecentSet } from '../recent-set';
import type * as LaneQueueModule from '../delivery/lane-queue';
import {
  configuredTableNames,
  failureLedger,
  laneSettings,
  laneStore,
  membershipStore,
  sequencer,
} from '../storage/clients';
import type { FailureLedger } from '../storage/failure-ledger';
import type { MembershipStore } from '../storage/membership';
import type { MessagePlace, Sequencer } from '../storage/sequencer';
import type { NotifierLanes, RecordOutcome } from './record-notifier';
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
   * Hands the messages of big groups to their lanes' queue.
   * @default the lanes of ROHRPOST_LANES, when it is set
   */
  readonly lanes?: () => NotifierLanes | undefined;
  /**
   * Where records are set aside: changes that can never be notified, at once, and records that
   * keep failing, before Lambda's retries run out. Without it both are retried like any failure.
   * @default the queue at ROHRPOST_DEAD_LETTER_QUEUE_URL, when it is set
   */
  readonly deadLetters?: () => DeadLetters | undefined;
  /** Counts each record's failures across invocations. @default in the history table, else in memory */
  readonly failureLedger?: () => FailureLedger;
  /** Largest message; a larger notification is sent as keys only. @default API Gateway's 128 KB */
  readonly payloadLimitBytes?: number;
  /** @default a JSON logger for service `rohrpost-notifications` */
  readonly logger?: Logger;
  /** Where the batch's counts go. @default Powertools' Metrics, as embedded-metric-format lines */
  readonly metrics?: MetricsRecorder;
  /** The clock, in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
}

/**
 * What the function is invoked with: a stream batch from Lambda's event source mapping, or
 * records `npm run redrive` sends again from the dead-letter queue (`redrive: true`).
 */
export type NotificationEvent = DynamoDBStreamEvent & { readonly redrive?: boolean };

/** What became of a redriven record. */
export interface RedriveOutcome {
  readonly sequenceNumber: string;
  /** `sent`: its messages went out; `already-delivered`: an earlier attempt sent them all. */
  readonly outcome: 'sent' | 'already-delivered' | 'failed' | 'undeliverable';
  /** Why it failed or cannot be sent. */
  readonly reason?: string;
}

/** Lambda's partial batch response, and for a redrive what became of each record. */
export interface NotificationResponse extends DynamoDBBatchResponse {
  readonly redrive?: RedriveOutcome[];
}

export type NotificationLambdaHandler = (
  event: NotificationEvent,
  context?: Context,
) => Promise<NotificationResponse>;

/**
 * Whatever the retries and backoff, Lambda makes no further attempt at a record this close to
 * its maximum age: a record that fails then is set aside rather than left to Lambda, which would
 * keep only its sequence number.
 */
const MIN_AGE_MARGIN_SECONDS = 60;

/**
 * Creates the notification function: DynamoDB stream records in, `subscription-update`
 * messages out to every member of each group a change concerns. Records of one item are
 * handled in order, different items in parallel. Nothing is lost:
 *
 * - A record that fails, and every later record of the same item, are reported as batch item
 *   failures, so that Lambda retries them in order. Each failure is counted (in the history
 *   table), and on what would be Lambda's last attempt (its `retryAttempts`, or a record near
 *   its maximum age) the function sets the record aside in the dead-letter queue, its content
 *   included, and the item's later records go on. Lambda itself gives up only on batches the
 *   function could not answer (it crashed or timed out), and then sends their sequence
 *   numbers, which `npm run redrive` reads back from the stream.
 * - A group that can never be sent to (a name that is not one, a message too large even as
 *   keys) is set aside at once with its reason; the change's other groups hear of it.
 * - Lambda retries a batch from its first failed record, so records after it that were
 *   delivered come again: the history remembers them, and they are not sent twice. A record set
 *   aside keeps its places as long as the dead-letter queue keeps it, so a redrive sends its
 *   messages with the seq they had.
 */
export function createNotificationHandler(options: NotificationHandlerOptions): NotificationLambdaHandler {
  const { config } = options;
  const logger = options.logger ?? createLogger(NOTIFICATIONS_SERVICE);
  const metrics = options.metrics ?? createMetrics(NOTIFICATIONS_SERVICE);
  const history = options.sequencer ?? sequencer;
  const deadLetters = options.deadLetters ?? deadLettersFromEnvironment;
  const ledger = options.failureLedger ?? failureLedger;
  const now = options.now ?? Date.now;
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
    lanes: options.lanes ?? lanesFromEnvironment,
    payloadLimitBytes: options.payloadLimitBytes ?? ApiGatewayLimits.maxMessageBytes,
    goneConnections: new GoneConnections(),
    logger,
  });
  const { retryAttempts, maxRecordAgeSeconds, timeoutSeconds } = config.notifications;
  const lastAgeSeconds = maxRecordAgeSeconds - Math.max(MIN_AGE_MARGIN_SECONDS, 2 * timeoutSeconds);
  // An undeliverable part is set aside once per instance, though a retried batch brings its record again.
  const setAsideUndeliverable = new RecentSet<string>();

  /** Sends a record to the dead-letter queue; false when there is none or it failed, and the record must be retried. */
  async function setAside(
    record: DynamoDBRecord,
    letter: Omit<UndeliverableRecord, 'table' | 'record'>,
  ): Promise<boolean> {
    const queue = deadLetters();
    if (!queue) return false;
    try {
      await queue.send({ ...letter, table: notifier.labelOf(record) ?? '', record });
    } catch (sendError) {
      logger.error('Could not send a record to the dead-letter queue; it will be retried', {
        eventID: record.eventID,
        error: sendError,
      });
      return false;
    }
    logger.error(
      letter.kind === 'failing'
        ? 'A change kept failing: sent to the dead-letter queue, its content included, before Lambda gives up on it'
        : letter.groups
          ? 'A change can never be notified to some of its groups: sent to the dead-letter queue; its other groups got it'
          : 'A change can never be notified: sent to the dead-letter queue',
      {
        eventID: record.eventID,
        sequenceNumber: sequenceNumber(record),
        keys: record.dynamodb?.Keys,
        groups: letter.groups,
        attempts: letter.attempts,
        reason: letter.reason,
      },
    );
    return true;
  }

  /** Sets the undeliverable part of a record aside; false when it must be retried instead. */
  async function setAsideParts(record: DynamoDBRecord, outcome: RecordOutcome): Promise<boolean> {
    const whole = outcome.error instanceof UndeliverableChangeError;
    const key = notifier.recordId(record);
    if (setAsideUndeliverable.has(key)) return true;
    const parked = await setAside(record, {
      kind: 'undeliverable',
      reason: whole ? describe(outcome.error) : outcome.undeliverable.map((part) => part.reason).join(' '),
      ...(!whole && { groups: outcome.undeliverable.map((part) => part.group) }),
    });
    if (parked) setAsideUndeliverable.add(key);
    return parked;
  }

  /**
   * Counts a failure of the record and, on what would be Lambda's last attempt at it, sets it
   * aside with its content; true when it was, and the item's later records may go on.
   */
  async function giveUp(record: DynamoDBRecord, outcome: RecordOutcome): Promise<boolean> {
    let attempts: number;
    try {
      [attempts] = (await ledger().recordFailures([notifier.recordId(record)])) as [number];
    } catch (error) {
      logger.warn('Could not count a failed record; Lambda retries it all the same', {
        eventID: record.eventID,
        error,
      });
      return false;
    }
    const age = now() / 1000 - (record.dynamodb?.ApproximateCreationDateTime ?? now() / 1000);
    if (attempts <= retryAttempts && age < lastAgeSeconds) return false;
    return setAside(record, {
      kind: 'failing',
      reason: describe(outcome.error),
      ...(outcome.failedGroups.length > 0 && { groups: outcome.failedGroups }),
      attempts,
    });
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
    const redrive = event.redrive === true;
    const limiter = new Limiter(config.notifications.concurrency);
    const failures: DynamoDBRecord[] = [];
    const setAsideRecords = new Set<DynamoDBRecord>();
    const posts = new PostTally();
    let laned = 0;
    const placed: Array<{ readonly record: DynamoDBRecord; readonly places: MessagePlace[] }> = [];
    const redriven = new Map<DynamoDBRecord, RedriveOutcome>();
    await Promise.all(
      [...recordsByItem(event.Records ?? []).values()].map(async (records) => {
        for (const [index, record] of records.entries()) {
          const outcome = await notifier.notify(record, limiter);
          placed.push({ record, places: outcome.places });
          posts.add(outcome.posts);
          laned += outcome.laned;
          recordLatency(record, outcome.posts);
          if (redrive) redriven.set(record, redriveOutcome(record, outcome));
          const whole = outcome.error instanceof UndeliverableChangeError;
          let failed = outcome.error !== undefined && !whole;
          if (!redrive && (whole || outcome.undeliverable.length > 0)) {
            if (await setAsideParts(record, outcome)) setAsideRecords.add(record);
            else failed = true;
          }
          if (!failed) continue;
          if (!redrive && outcome.error !== undefined && !whole && (await giveUp(record, outcome))) {
            setAsideRecords.add(record);
            continue;
          }
          const later = records.slice(index);
          logger.error('A change could not be notified; it will be retried', {
            eventID: record.eventID,
            sequenceNumber: sequenceNumber(record),
            keys: record.dynamodb?.Keys,
            groups: outcome.failedGroups,
            heldBack: later.length - 1,
            error: outcome.error,
          });
          if (!redrive && later.length > 1) await countHeldBack(later.slice(1));
          failures.push(...later);
          for (const held of later.slice(1)) {
            if (redrive)
              redriven.set(held, {
                sequenceNumber: sequenceNumber(held),
                outcome: 'failed',
                reason: 'an earlier change of its item failed',
              });
          }
          return;
        }
      }),
    );
    await rememberPlaces(failures, placed, setAsideRecords, redrive);
    // A failed record is no Lambda error: without this count, nothing would alarm while it is retried.
    metrics.count(NotificationMetrics.recordsReceived, event.Records?.length ?? 0);
    metrics.count(NotificationMetrics.recordsFailed, failures.length);
    metrics.count(NotificationMetrics.recordsDeadLettered, setAsideRecords.size);
    metrics.count(NotificationMetrics.notificationsSent, posts.messages + laned);
    metrics.count(NotificationMetrics.notificationsLaned, laned);
    metrics.count(NotificationMetrics.postsDelivered, posts.delivered);
    metrics.count(NotificationMetrics.postsGone, posts.gone);
    metrics.count(NotificationMetrics.postsThrottled, posts.throttled);
    metrics.count(NotificationMetrics.postsFailed, posts.failed);
    metrics.publish();
    const batchItemFailures = failures.map((record) => ({ itemIdentifier: sequenceNumber(record) }));
    if (!redrive) return { batchItemFailures };
    return { batchItemFailures, redrive: (event.Records ?? []).map((record) => redriven.get(record)!) };
  };

  /** Records held back behind a failing one of their item are attempts at them too. */
  async function countHeldBack(records: readonly DynamoDBRecord[]): Promise<void> {
    try {
      await ledger().recordFailures(records.map((record) => notifier.recordId(record)));
    } catch (error) {
      logger.warn('Could not count held-back records', { records: records.length, error });
    }
  }

  /**
   * Remembers places so that nothing is sent twice: what reached every member, for records
   * that come again (Lambda retries the batch from its first failed record; a redrive may be
   * run twice), and every place of a record set aside, for as long as the dead-letter queue
   * keeps it, so that a redrive sends its messages with the seq they had.
   */
  async function rememberPlaces(
    failures: readonly DynamoDBRecord[],
    placed: ReadonlyArray<{ readonly record: DynamoDBRecord; readonly places: MessagePlace[] }>,
    setAsideRecords: ReadonlySet<DynamoDBRecord>,
    redrive: boolean,
  ): Promise<void> {
    const store = history();
    if (!store) return;
    const retriedFrom =
      failures.length === 0
        ? undefined
        : failures.map((record) => BigInt(sequenceNumber(record))).reduce((a, b) => (a < b ? a : b));
    const comesAgain = (record: DynamoDBRecord) =>
      redrive || (retriedFrom !== undefined && BigInt(sequenceNumber(record)) >= retriedFrom);
    const delivered = placed
      .filter(({ record }) => !setAsideRecords.has(record) && comesAgain(record))
      .flatMap(({ places }) => places.filter((place) => place.delivered));
    const kept = placed.filter(({ record }) => setAsideRecords.has(record)).flatMap(({ places }) => places);
    try {
      if (delivered.length > 0) await store.remember(delivered);
      if (kept.length > 0) await store.remember(kept, DEAD_LETTER_RETENTION_SECONDS);
    } catch (error) {
      // Not a failure: the retry sends them again, identical, and clients drop the duplicates.
      logger.warn('Could not remember delivered messages; a retry sends them again', {
        messages: delivered.length + kept.length,
        error,
      });
    }
  }
}

/** What became of a redriven record, for `npm run redrive`. */
function redriveOutcome(record: DynamoDBRecord, outcome: RecordOutcome): RedriveOutcome {
  const base = { sequenceNumber: sequenceNumber(record) };
  if (outcome.error instanceof UndeliverableChangeError) {
    return { ...base, outcome: 'undeliverable', reason: outcome.error.message };
  }
  if (outcome.error !== undefined) {
    return {
      ...base,
      outcome: 'failed',
      reason: describe(outcome.error),
    };
  }
  if (outcome.undeliverable.length > 0) {
    return {
      ...base,
      outcome: 'undeliverable',
      reason: outcome.undeliverable.map((part) => part.reason).join(' '),
    };
  }
  return { ...base, outcome: outcome.sent > 0 ? 'sent' : 'already-delivered' };
}

/** An error's message, for a dead letter or a redrive's report. */
function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : (JSON.stringify(error) ?? 'unknown error');
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
      // Required here, not at load: the SQS client is only needed for a record set aside.
      const { SqsDeadLetters } = require('../delivery/dead-letters') as typeof DeadLettersModule;
      queueFromEnvironment = { queue: new SqsDeadLetters(url) };
    }
  }
  return queueFromEnvironment.queue;
}

let lanesFromSettings: { lanes?: NotifierLanes } | undefined;

function lanesFromEnvironment(): NotifierLanes | undefined {
  if (!lanesFromSettings) {
    const settings = laneSettings();
    const store = laneStore();
    if (!settings || !store) lanesFromSettings = {};
    else {
      // Required here, not at load: only a big group's message needs the SQS client.
      const { SqsLaneQueue } = require('../delivery/lane-queue') as typeof LaneQueueModule;
      lanesFromSettings = {
        lanes: {
          membership: membershipStore(),
          store,
          queue: new SqsLaneQueue(settings.queueUrl),
          groupSize: settings.groupSize,
        },
      };
    }
  }
  return lanesFromSettings.lanes;
}
