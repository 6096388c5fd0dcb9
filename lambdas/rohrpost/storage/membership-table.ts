import type { TableDefinition } from '../config';

/**
 * The membership table: one item per (group, connection). The table's key answers "who is in
 * group G" with a Query (fan-out, never a Scan); the index answers "which groups is connection
 * C in" (cleanup on disconnect). Items expire by TTL after every connection they could belong
 * to has ended, for the disconnects API Gateway never reports.
 */
export const MembershipTable = {
  groupAttribute: 'group',
  connectionAttribute: 'connectionId',
  expiryAttribute: 'expiresAt',
  connectionIndex: 'byConnection',
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
