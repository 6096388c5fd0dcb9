/**
 * How a big group's members are spread over the membership table's partitions, and which
 * delivery lane sends each of its messages to whom. Pure functions: no I/O.
 *
 * A group starts in one partition, its name (every small group stays so). Once it grows past
 * the lanes' threshold it gets a layout: its messages are then delivered by lanes, one per
 * shard, and its members are spread over a power of two of shards. A member belongs to shard
 * `hash(connectionId) mod shards`; shard 0 is the group's own partition and shard s > 0 is
 * `<group>\u001f<s>`. Doubling the shards splits shard s into s and s + N: only the members of s
 * whose next hash bit is set move, and they are copied, never taken away, so a reader that still
 * uses the old layout finds everyone.
 */

/** What the group's layout item says (in the history table, and mirrored in the membership table). */
export interface ShardLayout {
  /** Shards, a power of two, each delivered by its own lane. */
  readonly shards: number;
  /**
   * While a split is under way: the count it splits to. Members joining meanwhile are written
   * to both layouts; lanes keep to `shards` until the split is done. @default none
   */
  readonly splittingTo?: number;
  /** The shard count before the last split; 0 before the first, when the stream function delivered itself. */
  readonly previousShards: number;
  /** The seq of the last message delivered with the layout before: later ones use `shards`. */
  readonly splitAt: number;
  /** The seq of the last message the stream function delivered itself, before there were lanes. */
  readonly inlineUntil: number;
  /** The epoch `splitAt` and `inlineUntil` count in: a group whose position expires starts afresh. */
  readonly epoch: string;
  /** Rises with every change to the layout, which is conditioned on it. */
  readonly version: number;
}

/** How many members a lane's shard had at its last run, among how many shards. */
export interface ShardSize {
  readonly members: number;
  readonly shards: number;
}

/** Separates a group's name from its shard number; group names may not contain control characters. */
export const SHARD_SEPARATOR = '\u001f';

/** The most shards a group can have: a split's transaction writes a watermark per new lane, 100 items at most. */
export const MAX_SHARDS = 128;

/**
 * A 32-bit hash of a connection id: FNV-1a, then MurmurHash3's finalizer, so that its low bits,
 * which pick the shard, are as well mixed as its high ones. The same everywhere it runs.
 */
export function connectionHash(connectionId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < connectionId.length; i++) {
    hash ^= connectionId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** The shard of a connection among `shards` (a power of two). */
export function shardOf(connectionId: string, shards: number): number {
  return connectionHash(connectionId) & (shards - 1);
}

/** The membership table's partition key of a group's shard: the group itself for shard 0. */
export function shardPartition(group: string, shard: number): string {
  return shard === 0 ? group : `${group}${SHARD_SEPARATOR}${shard}`;
}

/** The group a membership partition belongs to. */
export function groupOfPartition(partition: string): string {
  const separator = partition.indexOf(SHARD_SEPARATOR);
  return separator === -1 ? partition : partition.slice(0, separator);
}

/**
 * The partitions a joining connection is written to: the group's own for a group without
 * layout; else its shard, and during a split also its shard in the layout to come.
 */
export function partitionsOf(group: string, connectionId: string, layout: ShardLayout | undefined): string[] {
  if (!layout) return [group];
  const partitions = [shardPartition(group, shardOf(connectionId, layout.shards))];
  if (layout.splittingTo !== undefined) {
    const next = shardPartition(group, shardOf(connectionId, layout.splittingTo));
    if (next !== partitions[0]) partitions.push(next);
  }
  return partitions;
}

/** Whether a connection written with layout `written` is everywhere `current` looks for it. */
export function covers(
  written: ShardLayout | undefined,
  current: ShardLayout | undefined,
  group: string,
  connectionId: string,
): boolean {
  const there = new Set(partitionsOf(group, connectionId, written));
  return partitionsOf(group, connectionId, current).every((partition) => there.has(partition));
}

/** Whether a value is a shard count: a power of two up to MAX_SHARDS. */
export function isShardCount(value: unknown): value is number {
  return (
    typeof value === 'number' &&
    Number.isInteger(value) &&
    value >= 1 &&
    value <= MAX_SHARDS &&
    (value & (value - 1)) === 0
  );
}

/** The attributes of a layout item, beside its key. */
export const LAYOUT_ATTRIBUTES = [
  'shards',
  'splittingTo',
  'previousShards',
  'splitAt',
  'inlineUntil',
  'epoch',
  'version',
] as const;

/** The layout an item holds, or `undefined` for no item or one that is not a layout. */
export function layoutOf(item: Record<string, unknown> | undefined): ShardLayout | undefined {
  if (!item || !isShardCount(item.shards)) return undefined;
  const { shards, splittingTo, previousShards, splitAt, inlineUntil, epoch, version } = item;
  const count = (value: unknown) => (typeof value === 'number' && Number.isInteger(value) ? value : 0);
  return {
    shards,
    ...(isShardCount(splittingTo) && splittingTo > shards && { splittingTo }),
    previousShards: count(previousShards),
    splitAt: count(splitAt),
    inlineUntil: count(inlineUntil),
    epoch: typeof epoch === 'string' ? epoch : '',
    version: count(version),
  };
}

/** The layout of a group that just got lanes: one shard, its lane starting after `top`. */
export function firstLayout(epoch: string, top: number): ShardLayout {
  return { shards: 1, previousShards: 0, splitAt: top, inlineUntil: top, epoch, version: 1 };
}

/** The layout while it splits in two: joins go to both, lanes carry on with the old one. */
export function splitting(layout: ShardLayout): ShardLayout {
  return { ...layout, splittingTo: layout.shards * 2, version: layout.version + 1 };
}

/** The layout once a split is done: messages after `top` go by the doubled shards. */
export function split(layout: ShardLayout, epoch: string, top: number): ShardLayout {
  return {
    shards: layout.shards * 2,
    previousShards: layout.shards,
    splitAt: top,
    // A seq of an epoch before means nothing in this one.
    inlineUntil: epoch === layout.epoch ? layout.inlineUntil : 0,
    epoch,
    version: layout.version + 1,
  };
}

/** How message `seq` of epoch `epoch` is delivered: by the stream function itself, or over how many lanes. */
export function deliveryOf(
  layout: ShardLayout | undefined,
  epoch: string,
  seq: number,
): { readonly lanes: false } | { readonly lanes: true; readonly shards: number } {
  if (!layout) return { lanes: false };
  if (layout.epoch !== epoch) return { lanes: true, shards: layout.shards };
  if (seq <= layout.inlineUntil) return { lanes: false };
  if (layout.previousShards > 0 && seq <= layout.splitAt)
    return { lanes: true, shards: layout.previousShards };
  return { lanes: true, shards: layout.shards };
}

/**
 * The lane a new lane must wait for: a lane made by the last split starts after `splitAt`, and
 * its members heard the messages up to `splitAt` from the lane they were split from.
 * `undefined` for a lane that waits for none.
 */
export function parentLane(layout: ShardLayout, shard: number): number | undefined {
  const { previousShards } = layout;
  return previousShards > 0 && shard >= previousShards ? shard & (previousShards - 1) : undefined;
}
