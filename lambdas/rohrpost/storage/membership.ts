import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ApiGatewayLimits } from '../delivery/limits';
import { groupNameProblem } from '../protocol/group-name';
import { batchWrite } from './batch-write';
import { MembershipTable } from './membership-table';
import type { ShardLayout } from './shard-layout';
import {
  groupOfPartition,
  layoutOf,
  partitionsOf,
  SHARD_SEPARATOR,
  shardOf,
  shardPartition,
} from './shard-layout';

/** A group's members as the stream function finds them: a group with lanes says so, a small one lists its members. */
export type GroupMembers =
  | { readonly layout: ShardLayout; readonly pages?: undefined }
  | { readonly layout: undefined; readonly pages: AsyncIterable<string[]> };

/** Which connections are in which groups. */
export interface MembershipStore {
  /**
   * Adds the connection to the group, in the partitions `layout` puts it (by default the last
   * layout this store saw for the group), and returns that layout. Joining twice is the same as once.
   */
  join(group: string, connectionId: string, layout?: ShardLayout): Promise<ShardLayout | undefined>;
  /** Removes the connection from the group; leaving a group one is not in does nothing. */
  leave(group: string, connectionId: string): Promise<void>;
  /** Removes the connection from every group it is in; returns those groups. */
  leaveAll(connectionId: string): Promise<string[]>;
  /** The group's members, whatever its layout, a page at a time. */
  members(group: string): AsyncIterable<string[]>;
}

/** What the lanes of big groups read and write of the membership besides (shard-layout.ts). */
export interface ShardedMembership extends MembershipStore {
  /** The group's layout when it has lanes, else its members: one Query for a small group, as `members`. */
  readGroup(group: string): Promise<GroupMembers>;
  /** The members written to one shard's partition, a page at a time: a lane filters them per message. */
  shardMembers(group: string, shard: number): AsyncIterable<string[]>;
  /** The group's layout, from its mirror in the membership table, read strongly consistently. */
  layout(group: string): Promise<ShardLayout | undefined>;
  /** Copies the members of `shard` that belong elsewhere among `shards` to their partitions; says how many. */
  spread(group: string, shard: number, shards: number): Promise<Spread>;
}

/** Memberships outlive the longest possible connection, then DynamoDB's TTL removes them. */
export const MEMBERSHIP_LIFETIME_SECONDS = ApiGatewayLimits.maxConnectionMs / 1000 + 60 * 60;
const DEFAULT_FIRST_PAGE_SIZE = 100;
const DEFAULT_SHARD_PAGE_SIZE = 1_000;
/** What spreading a shard's members over twice the shards found. */
export interface Spread {
  /** Members copied to another partition, copies left by earlier splits included. */
  readonly copied: number;
  /** The shard's own members that stay in it among the doubled shards. */
  readonly kept: number;
  /** Its own members whose shard among the doubled shards is the new one, `shard + shards / 2`. */
  readonly moved: number;
}

/** Groups whose layout a store remembers. */
const LAYOUT_CACHE_SIZE = 10_000;

export interface DynamoDbMembershipStoreOptions {
  /** The clock, in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
  /**
   * Members in the first Query page, kept small so that the fan-out's first posts go out while
   * the rest is read. @default 100
   */
  readonly firstPageSize?: number;
  /** Members per later Query page. @default as many as DynamoDB returns (1 MB of items, about 13,000) */
  readonly pageSize?: number;
  /**
   * Members per later Query page of a lane's shard. A lane posts while it reads, at its share
   * of the budget, and a shard's partition can hold many more members than its own (a split
   * leaves copies behind): pages this size keep it posting while the next page is read, where a
   * 1 MB page would leave it idle, unable to catch up later within its burst. @default 1000
   */
  readonly shardPageSize?: number;
  /**
   * Whether big groups may have lanes, so that a member may be in a shard's partition: leaving
   * then also looks for it there (one Query of the connection index). @default false
   */
  readonly lanes?: boolean;
}

interface Page {
  readonly connections: string[];
  readonly layout?: ShardLayout;
}

/**
 * Membership in one DynamoDB table (see membership-table.ts): a join or leave is one write,
 * a group's members are Queries (a first page of 100, then one per 1 MB page, about 13,000
 * members), and a connection's cleanup is a Query of the connection index plus batched
 * deletes. Nothing ever scans.
 *
 * A group with lanes (shard-layout.ts) has a layout item first in its own partition
 * (`MembershipTable.layoutKey`, which sorts before every connection id), so the Query that reads
 * a small group's members tells a big one apart at no extra cost.
 */
export class DynamoDbMembershipStore implements ShardedMembership {
  private readonly now: () => number;
  private readonly layouts = new Map<string, ShardLayout>();

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly options: DynamoDbMembershipStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  async join(group: string, connectionId: string, layout?: ShardLayout): Promise<ShardLayout | undefined> {
    checkGroupName(group);
    if (layout) this.rememberLayout(group, layout);
    const used = layout ?? this.layouts.get(group);
    const expiresAt = Math.floor(this.now() / 1000) + MEMBERSHIP_LIFETIME_SECONDS;
    await Promise.all(
      partitionsOf(group, connectionId, used).map((partition) =>
        this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              [MembershipTable.groupAttribute]: partition,
              [MembershipTable.connectionAttribute]: connectionId,
              [MembershipTable.expiryAttribute]: expiresAt,
            },
          }),
        ),
      ),
    );
    return used;
  }

  async leave(group: string, connectionId: string): Promise<void> {
    checkGroupName(group);
    if (!this.options.lanes) {
      await this.client.send(
        new DeleteCommand({ TableName: this.tableName, Key: this.key(group, connectionId) }),
      );
      return;
    }
    // Its shard's partition, and during or after a split a copy: the index lists them all.
    const partitions = new Set([group]);
    for await (const partition of this.partitionsOfConnection(connectionId, `${group}${SHARD_SEPARATOR}`)) {
      partitions.add(partition);
    }
    await this.deleteFrom([...partitions], connectionId);
  }

  async leaveAll(connectionId: string): Promise<string[]> {
    const partitions: string[] = [];
    for await (const partition of this.partitionsOfConnection(connectionId)) partitions.push(partition);
    await this.deleteFrom(partitions, connectionId);
    return [...new Set(partitions.map(groupOfPartition))];
  }

  async *members(group: string): AsyncIterable<string[]> {
    checkGroupName(group);
    const first = await this.readGroup(group);
    if (first.pages) {
      yield* first.pages;
      return;
    }
    const { shards } = first.layout;
    for (let shard = 0; shard < shards; shard++) {
      for await (const page of this.shardMembers(group, shard)) {
        // A member copied by a split is in two partitions: it counts in its own shard's.
        const own = page.filter((connectionId) => shardOf(connectionId, shards) === shard);
        if (own.length > 0) yield own;
      }
    }
  }

  async readGroup(group: string): Promise<GroupMembers> {
    checkGroupName(group);
    const pages = this.pages(group)[Symbol.asyncIterator]();
    const first = await pages.next();
    const layout = first.done ? undefined : first.value.layout;
    if (layout) {
      this.rememberLayout(group, layout);
      return { layout };
    }
    this.layouts.delete(group);
    async function* rest(): AsyncIterable<string[]> {
      if (first.done) return;
      if (first.value.connections.length > 0) yield first.value.connections;
      for (let next = await pages.next(); !next.done; next = await pages.next()) yield next.value.connections;
    }
    return { layout: undefined, pages: rest() };
  }

  async *shardMembers(group: string, shard: number): AsyncIterable<string[]> {
    checkGroupName(group);
    const pageSize = this.options.shardPageSize ?? DEFAULT_SHARD_PAGE_SIZE;
    for await (const page of this.pages(shardPartition(group, shard), pageSize)) {
      if (page.connections.length > 0) yield page.connections;
    }
  }

  async layout(group: string): Promise<ShardLayout | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: this.key(group, MembershipTable.layoutKey),
        ConsistentRead: true,
      }),
    );
    const layout = layoutOf(Item);
    if (layout) this.rememberLayout(group, layout);
    return layout;
  }

  async spread(group: string, shard: number, shards: number): Promise<Spread> {
    const now = Math.floor(this.now() / 1000);
    let copied = 0;
    let kept = 0;
    let moved = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#group = :group',
          ConsistentRead: true,
          FilterExpression: '#expires > :now',
          ExpressionAttributeNames: {
            '#group': MembershipTable.groupAttribute,
            '#expires': MembershipTable.expiryAttribute,
          },
          ExpressionAttributeValues: { ':group': shardPartition(group, shard), ':now': now },
          ExclusiveStartKey: startKey,
        }),
      );
      const moving = (page.Items ?? []).filter((item) => {
        const connectionId = item[MembershipTable.connectionAttribute] as string;
        if (connectionId === MembershipTable.layoutKey) return false;
        const to = shardOf(connectionId, shards);
        if (to === shard) kept++;
        else if (to === shard + shards / 2) moved++;
        return to !== shard;
      });
      await batchWrite(
        this.client,
        this.tableName,
        moving.map((item) => {
          const connectionId = item[MembershipTable.connectionAttribute] as string;
          return {
            PutRequest: {
              Item: {
                ...item,
                [MembershipTable.groupAttribute]: shardPartition(group, shardOf(connectionId, shards)),
              },
            },
          };
        }),
      );
      copied += moving.length;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return { copied, kept, moved };
  }

  /** A partition's live members, a Query page at a time, and in a group's own partition its layout. */
  private async *pages(partition: string, pageSize = this.options.pageSize): AsyncIterable<Page> {
    let startKey: Record<string, unknown> | undefined;
    let limit: number | undefined = this.options.firstPageSize ?? DEFAULT_FIRST_PAGE_SIZE;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#group = :group',
          // A member who joined a moment ago is posted to: its subscribe reply counted on it.
          ConsistentRead: true,
          // DynamoDB's TTL may take a while to delete an expired membership: do not count it.
          FilterExpression: '#expires > :now',
          ExpressionAttributeNames: {
            '#group': MembershipTable.groupAttribute,
            '#expires': MembershipTable.expiryAttribute,
          },
          ExpressionAttributeValues: { ':group': partition, ':now': Math.floor(this.now() / 1000) },
          ExclusiveStartKey: startKey,
          Limit: limit,
        }),
      );
      limit = pageSize;
      const items = page.Items ?? [];
      const layoutItem = items[0]?.[MembershipTable.connectionAttribute] === MembershipTable.layoutKey;
      yield {
        connections: (layoutItem ? items.slice(1) : items).map(
          (item) => item[MembershipTable.connectionAttribute] as string,
        ),
        ...(layoutItem && { layout: layoutOf(items[0]) }),
      };
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }

  /** The partitions a connection is written to, from the connection index; with `prefix`, those starting so. */
  private async *partitionsOfConnection(connectionId: string, prefix?: string): AsyncIterable<string> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: MembershipTable.connectionIndex,
          KeyConditionExpression: prefix
            ? '#connection = :connection AND begins_with(#group, :prefix)'
            : '#connection = :connection',
          ExpressionAttributeNames: {
            '#connection': MembershipTable.connectionAttribute,
            ...(prefix && { '#group': MembershipTable.groupAttribute }),
          },
          ExpressionAttributeValues: { ':connection': connectionId, ...(prefix && { ':prefix': prefix }) },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) yield item[MembershipTable.groupAttribute] as string;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }

  private async deleteFrom(partitions: readonly string[], connectionId: string): Promise<void> {
    await batchWrite(
      this.client,
      this.tableName,
      partitions.map((partition) => ({ DeleteRequest: { Key: this.key(partition, connectionId) } })),
    );
  }

  private rememberLayout(group: string, layout: ShardLayout): void {
    const known = this.layouts.get(group);
    if (known && known.version > layout.version) return;
    this.layouts.delete(group);
    this.layouts.set(group, layout);
    if (this.layouts.size > LAYOUT_CACHE_SIZE) this.layouts.delete(this.layouts.keys().next().value!);
  }

  private key(partition: string, connectionId: string) {
    return {
      [MembershipTable.groupAttribute]: partition,
      [MembershipTable.connectionAttribute]: connectionId,
    };
  }
}

/** A group name is a non-empty string that fits a DynamoDB key. */
function checkGroupName(group: unknown): asserts group is string {
  const problem = groupNameProblem(group);
  if (problem) throw new TypeError(problem);
}
