import type { TableDefinition } from '../config';

/**
 * The history table: each group's recent messages, in one partition per group. Its items,
 * by sort key:
 *
 * - `#head`: the group's position, `epoch` and `top` (the seq of its latest message);
 * - `m#<seq, 16 digits>`: a message, its `payload` exactly as it was sent, and its `epoch`;
 * - `r#<stream record id>`: the place a record's message got, its `seq` and `epoch`, and
 *   `delivered` once every member had it, so that a retried record is neither given a second
 *   place nor, once delivered, sent again.
 *
 * - `#layout`: for a group with lanes, its layout (shard-layout.ts), which never expires; it sorts
 *   right after `#head`, so a subscribe reads both in one Query;
 * - `w#<shard, 4 digits>`: a lane's watermark, the `epoch` and `seq` of the last message it
 *   delivered, and the `members` its shard had then among `memberShards` shards.
 *
 * and, in a partition of its own per failing stream record (the record id as `group`),
 * `#failures`: how many times the record failed (storage/failure-ledger.ts).
 *
 * Every item has an expiry: messages after the retention, records after Lambda's last retry,
 * the head after the position lifetime. DynamoDB's TTL deletes them late, so reads filter.
 */
export const HistoryTable = {
  groupAttribute: 'group',
  keyAttribute: 'key',
  expiryAttribute: 'expiresAt',
} as const;

export const historyTableDefinition: TableDefinition = {
  partitionKey: { name: HistoryTable.groupAttribute, type: 'string' },
  sortKey: { name: HistoryTable.keyAttribute, type: 'string' },
  timeToLiveAttribute: HistoryTable.expiryAttribute,
};

/** The attributes of a group's head item, beside its key and expiry. */
export const HeadAttributes = ['epoch', 'top'] as const;

/** Digits of a message key's seq: every safe integer fits, so keys sort in seq order. */
const SEQ_DIGITS = 16;

const WATERMARK_PREFIX = 'w#';

export const HistoryKeys = {
  head: '#head',
  message: (seq: number) => `m#${String(seq).padStart(SEQ_DIGITS, '0')}`,
  record: (recordId: string) => `r#${recordId}`,
  failures: '#failures',
  layout: '#layout',
  watermark: (shard: number) => `${WATERMARK_PREFIX}${String(shard).padStart(4, '0')}`,
  watermarkPrefix: WATERMARK_PREFIX,
} as const;

/** A group's head item, as stored. */
export interface Head {
  readonly epoch: string;
  readonly top: number;
  readonly expiresAt: number;
}

/** The head an item holds, or `undefined` for none or an expired one: TTL deletes late. */
export function liveHead(item: Record<string, unknown> | undefined, nowSeconds: number): Head | undefined {
  if (!item) return undefined;
  const { epoch, top, expiresAt } = item;
  if (typeof epoch !== 'string' || typeof top !== 'number' || typeof expiresAt !== 'number') return undefined;
  return expiresAt > nowSeconds ? { epoch, top, expiresAt } : undefined;
}

/** The current time in epoch seconds, the unit of DynamoDB's TTL. */
export function epochSeconds(now: () => number): number {
  return Math.floor(now() / 1000);
}
