import type { SplitRequest } from '../delivery/lane-messages';
import type { Logger } from '../logger';
import type { LaneStore } from '../storage/lane-store';
import type { ShardedMembership } from '../storage/membership';
import type { ShardLayout } from '../storage/shard-layout';
import type { LaneSettings } from './lane-delivery';

export interface ShardSplitterOptions {
  readonly lanes: LaneStore;
  readonly membership: ShardedMembership;
  readonly settings: LaneSettings;
  readonly logger: Logger;
}

/** A split has to wait: the lanes are still sending messages from before the last one. */
export class SplitWaitingError extends Error {
  constructor(group: string, shard: number, at: number, splitAt: number) {
    super(
      `Group '${group}' is not split again yet: lane ${shard} is at ${at} of the ${splitAt} messages before its last split.`,
    );
    this.name = 'SplitWaitingError';
  }
}

/**
 * Doubles a group's shards without losing or doubling a member:
 *
 * 1. the layout announces the split (`splittingTo`): from then on a joining member is written
 *    to its shard in both layouts, and one that joined with the old layout reads the new one
 *    with its position and writes itself again (group-operations.ts);
 * 2. the members of each shard whose next hash bit is set are copied to their new shard, and
 *    stay where they were, so lanes still sending earlier messages find them;
 * 3. one transaction, conditioned on the group's head, makes the doubled layout current from
 *    the next message on, and starts each new lane there; a new lane then waits for the lane it
 *    came from to deliver the messages before the split (lane-delivery.ts).
 *
 * A split runs when the lanes are done with the one before it, and a request for a layout that
 * has changed since is done already. Each step can be run again: a split cut short by a crash
 * is finished by the request's retry.
 */
export async function splitShards(request: SplitRequest, options: ShardSplitterOptions): Promise<void> {
  const { lanes, membership, settings, logger } = options;
  let layout = await membership.layout(request.group);
  if (!layout || layout.shards * 2 > settings.maxShards) return;
  if (layout.splittingTo === undefined) {
    if (layout.version !== request.version) return;
    await checkLanesCaughtUp(request.group, layout, lanes);
    layout = await lanes.beginSplit(request.group, layout);
  } else if (layout.version !== request.version + 1) {
    return;
  }
  const startedAt = Date.now();
  const to = layout.splittingTo!;
  const spreads = await Promise.all(
    Array.from({ length: layout.shards }, (_, shard) => membership.spread(request.group, shard, to)),
  );
  const done = await lanes.finishSplit(
    request.group,
    layout,
    spreads.map((spread) => spread.moved),
  );
  // The lanes the split came from go at their new shard's pace from their next run on; a size
  // not recorded costs only that (the run after records it).
  await Promise.all(
    spreads.map(async ({ kept }, shard) => {
      try {
        await lanes.recordSize(request.group, shard, { members: kept, shards: done.shards });
      } catch (error) {
        logger.warn("Could not record a shard's size after a split", { group: request.group, shard, error });
      }
    }),
  );
  logger.info('Split a group', {
    group: request.group,
    shards: done.shards,
    splitAt: done.splitAt,
    copied: spreads.reduce((sum, spread) => sum + spread.copied, 0),
    milliseconds: Date.now() - startedAt,
  });
}

/** Every lane has delivered up to the last split: none still needs the layout before it. */
async function checkLanesCaughtUp(group: string, layout: ShardLayout, lanes: LaneStore): Promise<void> {
  if (layout.previousShards === 0) return;
  for (const [shard, { watermark }] of await lanes.laneMarks(group)) {
    if (shard >= layout.shards || watermark?.epoch !== layout.epoch) continue;
    if (watermark.seq < layout.splitAt)
      throw new SplitWaitingError(group, shard, watermark.seq, layout.splitAt);
  }
}
