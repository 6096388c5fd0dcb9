import type { TableDefinition } from '../config';

/**
 * The membership table: one item per (group, connection). The table's key answers "who is in
 * group G" with a Query (fan-out, never a Scan); the index answers "which groups is connection
 * C in" (cleanup on disconnect). Items expire by TTL after every connection they could belong
 * to has ended, for the disconnects API Gateway never reports.
 *
 * A big group's members are spread over several partitions, `<group>` and `<group>\u001f<shard>`
 * (shard-layout.ts); its own partition then starts with its layout item, which does not expire.
 */
export const MembershipTable = {
  groupAttribute: 'group',
  connectionAttribute: 'connectionId',
  expiryAttribute: 'expiresAt',
  connectionIndex: 'byConnection',
  /**
   * The sort key of a group's layout item, in the group's own partition, when the group has
   * lanes (shard-layout.ts): `#` sorts before every character of API Gateway's connection ids.
   */
  layoutKey: '#lanes',
  /**
   * The layout item's expiry: it must outlive the members it places, and DynamoDB's TTL never
   * deletes an item before its time (January 1st, 3000).
   */
  layoutExpiresAt: 32_503_680_000,
} as const;

export const membershipTableDefinition: TableDefinition = {
  partitionKey: { name: MembershipTable.groupAttribute, type: 'string' },
  sortKey: { name: MembershipTable.connectionAttribute, type: 'string' },
  timeToLiveAttribute: MembershipTable.expiryAttribute,
  indexes: [
    {
      name: MembershipTable.connectionIndex,
      partitionKey: { name: MembershipTable.connectionAttribute, type: 'string' },
      sortKey: { name: MembershipTable.groupAttribute, type: 'string' },
      projection: 'keys-only',
    },
  ],
};
