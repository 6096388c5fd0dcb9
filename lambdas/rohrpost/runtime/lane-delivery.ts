import type { Connections } from '../delivery/connections';
import { ConnectionGoneError } from '../delivery/connections';
import type { GoneConnections } from '../delivery/fan-out';
import type { LaneWake } from '../delivery/lane-messages';
import { paceFactor } from '../delivery/lane-pace';
import type { LaneQueue } from '../delivery/lane-queue';
import type { Limiter } from '../delivery/limiter';
import type { Pacer } from '../delivery/pacer';
import { isThrottling, PostTally } from '../delivery/post-tally';
import type { Logger } from '../logger';
import type { LaneMark, LaneMessage, LaneStore, Watermark } from '../storage/lane-store';
import type { ShardedMembership } from '../storage/membership';
import type { ShardLayout, ShardSize } from '../storage/shard-layout';
import { deliveryOf, parentLane, shardOf } from '../storage/shard-layout';

/**
 * Paced tries of a post the API keeps throttling (each after the connection's own retries):
 * throttling is the account's, and the pacer slows down; a member is left behind for it only
 * when it does not let up.
 */
const THROTTLED_TRIES = 8;

/** How lanes run: rohrpost.config.ts's `notifications.lanes`, defaults applied. */
export interface LaneSettings {
  /** Members of a shard above which the group's shards are doubled. */
  readonly shardSize: number;
  /** Shards a group may have at most. */
  readonly maxShards: number;
}

export interface LaneDeliveryOptions {
  readonly lanes: LaneStore;
  readonly membership: ShardedMembership;
  readonly connections: Connections;
  readonly queue: LaneQueue;
  /** The account's budget of posts, this worker's share of it. */
  readonly pacer: Pacer;
  /** Bounds the posts in flight. */
  readonly limiter: Limiter;
  readonly goneConnections: GoneConnections;
  readonly settings: LaneSettings;
  readonly logger: Logger;
  /** How long a lane made by a split waits for the lane it was split from, in milliseconds. */
  readonly waitForParentMs: number;
  /** @default setTimeout */
  readonly sleep?: (milliseconds: number) => Promise<void>;
  /** @default Date.now */
  readonly now?: () => number;
}

/** What one run of a lane did. */
export interface LaneRun {
  /** Messages sent to the shard's members. */
  readonly messages: number;
  readonly posts: PostTally;
  /** Members not sent some of the messages (failed after the retries): their client recovers them. */
  readonly leftBehind: number;
  /** Why the first of them was left behind. */
  readonly leftBehindFor?: string;
  /** Seqs the history no longer had (past their retention): members recover or refetch. */
  readonly missing: number;
}

/** A lane made by a split cannot start before the lane it came from has delivered up to the split. */
export class LaneWaitingError extends Error {
  constructor(wake: LaneWake, parent: number, at: number, splitAt: number) {
    super(
      `Lane ${wake.shard} of group '${wake.group}' waits for lane ${parent}, at ${at} of the ${splitAt} messages before the split.`,
    );
    this.name = 'LaneWaitingError';
  }
}

/**
 * Runs one lane up to the group's head (at least the wake-up's seq): the messages after the
 * lane's watermark, each to the members of the shard it was sent with, in seq order for every
 * member, then the watermark.
 *
 * Each member gets its messages one after the other, independently of the others, so a slow or
 * dead connection holds up nobody but itself; one whose post fails after the retries is left
 * behind for the rest of the run (its client's gap detection recovers it with `since`). The
 * watermark moves past a message once every member is done with it, so a retried run sends
 * again only what was not known to be done: a member may receive a message twice (same id and
 * seq), never out of order.
 */
export async function runLane(wake: LaneWake, options: LaneDeliveryOptions): Promise<LaneRun> {
  const { lanes, membership, logger } = options;
  const posts = new PostTally();
  const idle: LaneRun = { messages: 0, posts, leftBehind: 0, missing: 0 };
  // The head first: every message up to it was placed before the layout read below, so the
  // layout says which shards each was sent with (a split after this read comes after them).
  const head = await lanes.head(wake.group);
  const layout = await membership.layout(wake.group);
  if (!layout || wake.shard >= layout.shards) {
    logger.warn('A lane wake-up for a shard the group does not have: nothing to do', {
      group: wake.group,
      shard: wake.shard,
      shards: layout?.shards,
    });
    return idle;
  }
  const marks = await lanes.laneMarks(wake.group);
  const watermark = marks.get(wake.shard)?.watermark;
  const start = watermark?.epoch === wake.epoch ? watermark.seq : 0;
  // Up to the head: the wake-ups of the messages placed since come to a lane with little left to do.
  const to = head?.epoch === wake.epoch ? Math.max(wake.seq, head.seq) : wake.seq;
  if (to <= start) return idle;
  await waitForParent(wake, layout, start, options);
  const run = { ...wake, seq: to };

  const messages = await lanes.messages(wake.group, wake.epoch, start + 1, to);
  const missing = to - start - messages.length;
  if (missing > 0) {
    logger.warn('Messages the lane should send are no longer in the history: members recover them', {
      group: wake.group,
      shard: wake.shard,
      from: start + 1,
      to,
      missing,
    });
  }
  const { leftBehind, leftBehindFor } = await deliver(
    run,
    layout,
    messages,
    {
      watermark,
      pace: paceFromMarks(wake.shard, layout.shards, marks),
      whenCounted: (own) => splitWhenFull(wake, layout, own, options),
    },
    options,
    posts,
  );
  posts.messages += messages.length;
  return { messages: messages.length, posts, leftBehind, missing, ...(leftBehindFor && { leftBehindFor }) };
}

/** A lane made by the last split starts once the lane it came from delivered the messages before it. */
async function waitForParent(
  wake: LaneWake,
  layout: ShardLayout,
  start: number,
  options: LaneDeliveryOptions,
): Promise<void> {
  const parent = parentLane(layout, wake.shard);
  if (parent === undefined || layout.epoch !== wake.epoch || start > layout.splitAt) return;
  const sleep = options.sleep ?? ((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? Date.now;
  const deadline = now() + options.waitForParentMs;
  for (let pause = 20; ; pause = Math.min(pause * 2, 500)) {
    const at = await options.lanes.watermark(wake.group, parent);
    const reached = at?.epoch === wake.epoch ? at.seq : 0;
    if (reached >= layout.splitAt) return;
    if (now() + pause > deadline) throw new LaneWaitingError(wake, parent, reached, layout.splitAt);
    await sleep(pause);
  }
}

/** Asks for the group's shards to be doubled when this one has more members of its own than a shard holds. */
async function splitWhenFull(
  wake: LaneWake,
  layout: ShardLayout,
  own: number,
  { queue, settings, logger }: LaneDeliveryOptions,
): Promise<void> {
  if (layout.splittingTo !== undefined || layout.shards * 2 > settings.maxShards) return;
  if (own <= settings.shardSize) return;
  try {
    await queue.requestSplit(wake.group, layout.version);
    logger.info('A shard outgrew its size: the group is split', {
      group: wake.group,
      shard: wake.shard,
      members: own,
      shards: layout.shards,
    });
  } catch (error) {
    // The next run asks again: a full shard is slower, not wrong.
    logger.warn('Could not ask for a split', { group: wake.group, error });
  }
}

/**
 * The lane's pace factor, from the sizes its group's lanes recorded at their last runs, its own
 * included: posting starts with the first page of members, before this run has counted them.
 */
function paceFromMarks(shard: number, shards: number, marks: ReadonlyMap<number, LaneMark>): number {
  const own = marks.get(shard)?.size;
  if (own?.shards !== shards) return 1;
  const sizes = new Map([...marks].map(([other, mark]) => [other, mark.size]));
  return paceFactor(own.members, shard, shards, sizes);
}

/** Where a lane run starts and how fast it goes. */
interface LaneStart {
  readonly watermark: Watermark | undefined;
  /** The factor on the lane's pace (lane-pace.ts). */
  readonly pace: number;
  /** Called with the shard's own members once all are read, while the posts go on. */
  readonly whenCounted: (own: number) => Promise<void>;
}

/**
 * Sends each message to its recipients, every member's messages in order, from the first page
 * of the shard's members on, and moves the watermark past each message once all its recipients
 * are done; returns how many members were left behind, and why the first was.
 */
async function deliver(
  wake: LaneWake,
  layout: ShardLayout,
  messages: readonly LaneMessage[],
  { watermark, pace, whenCounted }: LaneStart,
  options: LaneDeliveryOptions,
  posts: PostTally,
): Promise<{ leftBehind: number; leftBehindFor?: string }> {
  const { connections, pacer, limiter, goneConnections, membership } = options;
  // Which shards each message went by; a message the stream function delivered itself, before
  // the group had lanes, is not the lane's.
  const deliveries = messages.map(({ seq }) => deliveryOf(layout, wake.epoch, seq));
  const pending = messages.map(() => 0);
  const progress = new WatermarkProgress(wake, messages, watermark, pending, options);
  const cost = 1 / pace;
  let leftBehind = 0;
  let leftBehindFor: string | undefined;

  const sendAll = async (connectionId: string, mine: readonly number[]) => {
    let behind = false;
    for (const i of mine) {
      if (!behind && !goneConnections.has(connectionId)) {
        behind = !(await post(connectionId, messages[i]!.payload));
        if (behind) leftBehind++;
      }
      progress.done(i);
    }
  };
  const post = async (connectionId: string, payload: string): Promise<boolean> => {
    const release = await limiter.acquire();
    try {
      for (let paced = 1; ; paced++) {
        await pacer.take(cost);
        try {
          await connections.post(connectionId, payload);
          posts.recordDelivered();
          return true;
        } catch (error) {
          // The account's quota, not the member: slower (the pacer halved its pace) and again.
          if (isThrottling(error) && paced < THROTTLED_TRIES) continue;
          throw error;
        }
      }
    } catch (error) {
      if (error instanceof ConnectionGoneError) {
        posts.gone++;
        if (goneConnections.add(connectionId)) await removeGone(connectionId, options);
        return true;
      }
      posts.recordFailed(error);
      leftBehindFor ??= error instanceof Error ? error.message : String(error);
      return false;
    } finally {
      release();
    }
  };

  const sending: Array<Promise<void>> = [];
  // A split copies members and leaves them where they were: count only this shard's own.
  let own = 0;
  try {
    for await (const page of membership.shardMembers(wake.group, wake.shard)) {
      for (const connectionId of page) {
        if (shardOf(connectionId, layout.shards) === wake.shard) own++;
        const mine: number[] = [];
        for (const [i, delivery] of deliveries.entries()) {
          if (delivery.lanes && shardOf(connectionId, delivery.shards) === wake.shard) mine.push(i);
        }
        for (const i of mine) pending[i]!++;
        if (mine.length > 0) sending.push(sendAll(connectionId, mine));
      }
    }
  } catch (error) {
    // The run fails and is retried: its posts under way end first, so that none overtakes the retry's.
    await Promise.allSettled(sending);
    throw error;
  }
  progress.counted({ members: own, shards: layout.shards });
  await whenCounted(own);
  await Promise.allSettled(sending);
  await progress.settled();
  return { leftBehind, ...(leftBehindFor && { leftBehindFor }) };
}

/**
 * Moves the lane's watermark past each message once every recipient is done with it, in seq
 * order, from when the recipients are all counted.
 */
class WatermarkProgress {
  private next = 0;
  private writing: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  /** The shard's size, once every member was read and counted in `pending`. */
  private size: ShardSize | undefined;

  constructor(
    private readonly wake: LaneWake,
    private readonly messages: readonly LaneMessage[],
    private current: Watermark | undefined,
    private readonly pending: number[],
    private readonly options: LaneDeliveryOptions,
  ) {}

  /** Every recipient is counted in `pending`: the watermark may move. */
  counted(size: ShardSize): void {
    this.size = size;
    this.advance();
  }

  done(index: number): void {
    this.pending[index]!--;
    this.advance();
  }

  /** Waits for the watermark's writes; throws the first that failed. */
  async settled(): Promise<void> {
    await this.writing;
    if (this.failure) throw this.failure;
  }

  private advance(): void {
    if (!this.size) return;
    let reached = this.next;
    while (reached < this.messages.length && this.pending[reached] === 0) reached++;
    // Messages up to the wake-up's seq that the history lacks count as done once those before them are.
    const to =
      reached === this.messages.length
        ? this.wake.seq
        : reached > this.next
          ? this.messages[reached - 1]!.seq
          : undefined;
    if (to === undefined || (this.current?.epoch === this.wake.epoch && this.current.seq >= to)) return;
    this.next = reached;
    const target = { epoch: this.wake.epoch, seq: to };
    const size = this.size;
    this.writing = this.writing.then(async () => {
      if (this.failure) return;
      try {
        await this.options.lanes.advance(this.wake.group, this.wake.shard, this.current, target, size);
        this.current = target;
      } catch (error) {
        this.failure = error as Error;
      }
    });
  }
}

async function removeGone(connectionId: string, { membership, logger }: LaneDeliveryOptions): Promise<void> {
  try {
    const groups = await membership.leaveAll(connectionId);
    logger.info('Removed a gone connection from its groups', { connectionId, groups: groups.length });
  } catch (error) {
    // Not a delivery failure: the membership's TTL removes it in the end.
    logger.warn('Could not remove a gone connection from its groups', { connectionId, error });
  }
}
