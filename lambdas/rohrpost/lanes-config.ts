import { MAX_SHARDS } from './storage/shard-layout';

/**
 * Delivery lanes for big groups (README, "Big groups"): above `groupSize` members, a group's
 * messages are posted by lane workers, one lane per shard of its members, all paced to the
 * account's PostToConnection budget, instead of by the notification function itself.
 */
export interface LanesConfig {
  /** Members above which a group's messages go through lanes. @default 2000 */
  readonly groupSize?: number;
  /** Members per shard: a shard with more is split in two, doubling the group's lanes. @default 4000 */
  readonly shardSize?: number;
  /** Shards, so lanes, a group may have at most: a power of two up to 128. @default 64 */
  readonly maxShards?: number;
  /**
   * PostToConnection calls a second all lanes together may make. API Gateway's account quota
   * is 10,000 requests a second for every API Gateway call in the region (2,500 in some newer
   * regions); the rest is left for replies and small groups. @default 9000
   */
  readonly postsPerSecond?: number;
  /** Posts beyond that rate after a quiet spell; the account's burst is 5,000. @default half of postsPerSecond */
  readonly burst?: number;
  /**
   * Lane workers at once, the event source's maximum concurrency (2 to 1,000). Each paces
   * itself to its share of the budget: keep it a power of two, as shard counts are, so that
   * a big group's lanes run in full rounds. @default 16
   */
  readonly concurrency?: number;
  /** Posts in flight at once per worker. @default 100 */
  readonly postsInFlight?: number;
  /** The lane worker's memory in MB. @default 512 */
  readonly memorySize?: number;
  /** The lane worker's timeout in seconds; the queue's visibility timeout is six times it, as AWS advises. @default 120 */
  readonly timeoutSeconds?: number;
  /** Receives of a lane job before SQS moves it to the lanes' dead-letter queue. @default 20 */
  readonly maxReceiveCount?: number;
}

export type ResolvedLanes = Required<LanesConfig>;

/** The lane worker's module, relative to the project root: rohrpost's own, deployed as it is. */
export const LANE_WORKER_ENTRY = 'lambdas/rohrpost/runtime/lane-worker.ts';

/** `notifications.lanes` with its defaults; `undefined` when it is off. */
export function resolveLanes(
  lanes: LanesConfig | false | undefined,
  keepsHistory: boolean,
): ResolvedLanes | undefined {
  if (lanes === false) return undefined;
  if (!keepsHistory) {
    if (lanes === undefined) return undefined;
    throw new Error(
      'notifications.lanes needs notifications.history: a lane sends the messages the history keeps. ' +
        'Keep a history, or set lanes: false.',
    );
  }
  const config = lanes ?? {};
  const setting = (name: keyof LanesConfig, fallback: number, min: number, max: number) => {
    const value = config[name] ?? fallback;
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(
        `notifications.lanes.${name} must be a whole number from ${min} to ${max}, not ${value}.`,
      );
    }
    return value;
  };
  const postsPerSecond = setting('postsPerSecond', 9000, 1, 1_000_000);
  const maxShards = setting('maxShards', 64, 1, MAX_SHARDS);
  if ((maxShards & (maxShards - 1)) !== 0) {
    throw new Error(`notifications.lanes.maxShards must be a power of two, not ${maxShards}.`);
  }
  const timeoutSeconds = setting('timeoutSeconds', 120, 10, 900);
  return {
    groupSize: setting('groupSize', 2000, 1, 10_000_000),
    shardSize: setting('shardSize', 4000, 1, 10_000_000),
    maxShards,
    postsPerSecond,
    burst: setting('burst', Math.max(1, Math.floor(postsPerSecond / 2)), 1, 1_000_000),
    concurrency: setting('concurrency', 16, 2, 1000),
    postsInFlight: setting('postsInFlight', 100, 1, 1000),
    memorySize: setting('memorySize', 512, 128, 10_240),
    timeoutSeconds,
    maxReceiveCount: setting('maxReceiveCount', 20, 1, 1000),
  };
}
