/**
 * The lane worker: the function the lanes' FIFO queue feeds (rohrpost.config.ts's
 * `notifications.lanes`). It is rohrpost's own, deployed as it is: nothing of the application
 * runs in it.
 */
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Connections } from '../delivery/connections';
import { signedConnectionsAt } from '../delivery/connections';
import { GoneConnections } from '../delivery/fan-out';
import type { LaneJob } from '../delivery/lane-messages';
import { parseLaneJob } from '../delivery/lane-messages';
import type { LaneQueue } from '../delivery/lane-queue';
import type * as LaneQueueModule from '../delivery/lane-queue';
import { Limiter } from '../delivery/limiter';
import { Pacer } from '../delivery/pacer';
import { PostTally } from '../delivery/post-tally';
import type { LaneEnvironment } from '../environment';
import { EnvironmentVariables, requireEnvironment } from '../environment';
import type { Logger } from '../logger';
import { createLogger } from '../logger';
import { LaneMetrics, LANES_SERVICE } from '../metric-names';
import type { MetricsRecorder } from '../metrics';
import { createMetrics } from '../metrics';
import { laneSettings, laneStore, membershipStore } from '../storage/clients';
import type { LaneStore } from '../storage/lane-store';
import { LayoutConflictError } from '../storage/lane-store';
import type { ShardedMembership } from '../storage/membership';
import { LaneWaitingError, runLane } from './lane-delivery';
import { splitShards, SplitWaitingError } from './shard-splitter';

export interface LaneWorkerOptions {
  /** @default ROHRPOST_LANES */
  readonly settings?: () => LaneEnvironment;
  /** @default over the tables of ROHRPOST_HISTORY and ROHRPOST_MEMBERSHIP_TABLE */
  readonly lanes?: () => LaneStore;
  /** @default the membership table of ROHRPOST_MEMBERSHIP_TABLE */
  readonly membership?: () => ShardedMembership;
  /** @default `SignedConnections` to ROHRPOST_MANAGEMENT_ENDPOINT, telling the pacer of each 429 */
  readonly connections?: (pacer: Pacer) => Connections;
  /** @default the queue of ROHRPOST_LANES */
  readonly queue?: () => LaneQueue;
  /** @default a JSON logger for service `rohrpost-lanes` */
  readonly logger?: Logger;
  /** @default Powertools' Metrics */
  readonly metrics?: MetricsRecorder;
}

/** Tries of a post, and how long each may take (PostToConnection answers in tens of milliseconds). */
const POST_ATTEMPTS = 3;
const POST_TIMEOUT_MS = 2_000;

/** A lane retried with backoff: 1 s, then doubling with each receive, at most a minute. */
function retryDelaySeconds(receiveCount: number): number {
  return Math.min(60, 2 ** Math.max(0, receiveCount - 1));
}

/**
 * Creates the lane worker. Each record is a job: wake a lane (runLane), or split a group's
 * shards (splitShards). SQS gives a message group, so a lane, to one worker at a time and in
 * order; within a batch the records of one message group run one after the other, different
 * groups side by side. A job that fails is reported in `batchItemFailures` with every later
 * record of its message group, so that none overtakes it
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html), and made
 * visible again after a backoff instead of the queue's visibility timeout; after the queue's
 * `maxReceiveCount` SQS moves it to the lanes' dead-letter queue.
 *
 * Each instance paces its posts to its share of the account's budget (`postsPerSecond` over
 * `concurrency`, the most instances the event source runs), times its lane's pace factor
 * (lane-pace.ts), halves its pace on a 429 and recovers it gradually.
 */
export function createLaneWorker(options: LaneWorkerOptions = {}) {
  const settings = options.settings ?? (() => laneSettings()!);
  const logger = options.logger ?? createLogger(LANES_SERVICE);
  const metrics = options.metrics ?? createMetrics(LANES_SERVICE);
  const goneConnections = new GoneConnections();
  let instance: { pacer: Pacer; limiter: Limiter; connections: Connections; queue: LaneQueue } | undefined;

  const setUp = () => {
    if (instance) return instance;
    const { postsPerSecond, burst, concurrency, postsInFlight, queueUrl } = settings();
    const pacer = new Pacer({ rate: postsPerSecond / concurrency, burst: Math.max(1, burst / concurrency) });
    instance = {
      pacer,
      limiter: new Limiter(postsInFlight),
      connections:
        options.connections?.(pacer) ??
        signedConnectionsAt(requireEnvironment(EnvironmentVariables.managementEndpoint), postsInFlight, {
          onThrottled: () => pacer.throttled(),
          // A connection that does not answer is left behind after these, not waited for: its
          // lane's next run waits for this one.
          maxAttempts: POST_ATTEMPTS,
          timeoutMs: POST_TIMEOUT_MS,
        }),
      queue:
        options.queue?.() ??
        new (require('../delivery/lane-queue') as typeof LaneQueueModule).SqsLaneQueue(queueUrl),
    };
    return instance;
  };

  return async function handler(event: SQSEvent, context?: Context): Promise<SQSBatchResponse> {
    logger.startInvocation?.(context, {});
    const { pacer, limiter, connections, queue } = setUp();
    const { shardSize, maxShards } = settings();
    const posts = new PostTally();
    const failed: SQSRecord[] = [];
    let runs = 0;
    let messages = 0;
    let splits = 0;
    // A little under the function's time, so that a lane still waiting reports itself failed.
    const waitForParentMs = Math.max(
      0,
      Math.min(10_000, (context?.getRemainingTimeInMillis() ?? 30_000) / 3),
    );

    const runJob = async (job: LaneJob) => {
      const lanes = (options.lanes ?? (() => laneStore()!))();
      const membership = (options.membership ?? membershipStore)();
      if (job.kind === 'split') {
        await splitShards(job, { lanes, membership, settings: { shardSize, maxShards }, logger });
        splits++;
        return;
      }
      const run = await runLane(job, {
        lanes,
        membership,
        connections,
        queue,
        pacer,
        limiter,
        goneConnections,
        settings: { shardSize, maxShards },
        logger,
        waitForParentMs,
      });
      runs++;
      messages += run.messages;
      posts.add(run.posts);
      if (run.leftBehind > 0) {
        logger.warn('Members left behind: posts failed after the retries; their clients recover', {
          group: job.group,
          shard: job.shard,
          leftBehind: run.leftBehind,
          reason: run.leftBehindFor,
          throttled: run.posts.throttled,
          failed: run.posts.failed,
        });
      }
    };

    await Promise.all(
      [...byMessageGroup(event.Records ?? []).values()].map(async (records) => {
        for (const [index, record] of records.entries()) {
          try {
            await runJob(parseLaneJob(record.body));
          } catch (error) {
            const fields = {
              messageId: record.messageId,
              receiveCount: record.attributes.ApproximateReceiveCount,
              error,
            };
            if (
              error instanceof LaneWaitingError ||
              error instanceof SplitWaitingError ||
              error instanceof LayoutConflictError
            ) {
              logger.info('A lane job waits; it is retried', fields);
            } else logger.error('A lane job failed; it is retried', fields);
            // The group's later jobs wait for this one: all come back together, after the backoff.
            const held = records.slice(index);
            failed.push(...held);
            const seconds = retryDelaySeconds(Number(record.attributes.ApproximateReceiveCount) || 1);
            await Promise.all(held.map((job) => retryLater(job, seconds, queue, logger)));
            return;
          }
        }
      }),
    );

    metrics.count(LaneMetrics.lanesRun, runs);
    metrics.count(LaneMetrics.laneFailures, failed.length);
    metrics.count(LaneMetrics.messagesSent, messages);
    metrics.count(LaneMetrics.postsDelivered, posts.delivered);
    metrics.count(LaneMetrics.postsGone, posts.gone);
    metrics.count(LaneMetrics.postsThrottled, posts.throttled);
    metrics.count(LaneMetrics.postsFailed, posts.failed);
    metrics.count(LaneMetrics.splits, splits);
    metrics.publish();
    logger.debug('Lane batch done', { runs, messages, delivered: posts.delivered, rate: pacer.rate });
    return { batchItemFailures: failed.map((record) => ({ itemIdentifier: record.messageId })) };
  };
}

/** Makes a failed job visible again after `seconds`; the queue's visibility timeout applies when that fails. */
async function retryLater(
  record: SQSRecord,
  seconds: number,
  queue: LaneQueue,
  logger: Logger,
): Promise<void> {
  try {
    await queue.retryIn(record.receiptHandle, seconds);
  } catch (error) {
    logger.warn("Could not shorten a failed lane job's wait: it comes back after the visibility timeout", {
      messageId: record.messageId,
      error,
    });
  }
}

/** Records by their message group, each in the order SQS gave them. */
function byMessageGroup(records: readonly SQSRecord[]): Map<string, SQSRecord[]> {
  const groups = new Map<string, SQSRecord[]>();
  for (const record of records) {
    const key = record.attributes.MessageGroupId ?? record.messageId;
    const list = groups.get(key);
    if (list) list.push(record);
    else groups.set(key, [record]);
  }
  return groups;
}

export const handler = createLaneWorker();
