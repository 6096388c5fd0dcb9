import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BatchWriteCommand, DeleteCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ApiGatewayLimits } from '../delivery/limits';
import { MembershipTable } from './membership-table';

/** Which connections are in which groups. */
export interface MembershipStore {
  /** Adds the connection to the group; joining twice is the same as once. */
  join(group: string, connectionId: string): Promise<void>;
  /** Removes the connection from the group; leaving a group one is not in does nothing. */
  leave(group: string, connectionId: string): Promise<void>;
  /** Removes the connection from every group it is in; returns those groups. */
  leaveAll(connectionId: string): Promise<string[]>;
  /** The group's members, a page at a time. */
  members(group: string): AsyncIterable<string[]>;
}

/** Longest group name: DynamoDB partition keys hold up to 2048 bytes. */
const MAX_GROUP_NAME_BYTES = 1024;
/** Memberships outlive the longest possible connection, then DynamoDB's TTL removes them. */
export const MEMBERSHIP_LIFETIME_SECONDS = ApiGatewayLimits.maxConnectionMs / 1000 + 60 * 60;
const BATCH_WRITE_LIMIT = 25;
const UNPROCESSED_RETRIES = 8;
const DEFAULT_FIRST_PAGE_SIZE = 100;

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
}

/**
 * Membership in one DynamoDB table (see membership-table.ts): a join or leave is one write,
 * a group's members are Queries (a first page of 100, then one per 1 MB page, about 13,000
 * members), and a connection's cleanup is a Query of the connection index plus batched
 * deletes. Nothing ever scans.
 */
export class DynamoDbMembershipStore implements MembershipStore {
  private readonly now: () => number;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly options: DynamoDbMembershipStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  async join(group: string, connectionId: string): Promise<void> {
    checkGroupName(group);
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          [MembershipTable.groupAttribute]: group,
          [MembershipTable.connectionAttribute]: connectionId,
          [MembershipTable.expiryAttribute]: Math.floor(this.now() / 1000) + MEMBERSHIP_LIFETIME_SECONDS,
        },
      }),
    );
  }

  async leave(group: string, connectionId: string): Promise<void> {
    checkGroupName(group);
    await this.client.send(
      new DeleteCommand({ TableName: this.tableName, Key: this.key(group, connectionId) }),
    );
  }

  async leaveAll(connectionId: string): Promise<string[]> {
    const groups: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: MembershipTable.connectionIndex,
          KeyConditionExpression: '#connection = :connection',
          ExpressionAttributeNames: { '#connection': MembershipTable.connectionAttribute },
          ExpressionAttributeValues: { ':connection': connectionId },
          ExclusiveStartKey: startKey,
        }),
      );
      groups.push(...(page.Items ?? []).map((item) => item[MembershipTable.groupAttribute] as string));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    for (let i = 0; i < groups.length; i += BATCH_WRITE_LIMIT) {
      await this.deleteBatch(
        groups.slice(i, i + BATCH_WRITE_LIMIT).map((group) => this.key(group, connectionId)),
      );
    }
    return groups;
  }

  async *members(group: string): AsyncIterable<string[]> {
    checkGroupName(group);
    let startKey: Record<string, unknown> | undefined;
    let limit: number | undefined = this.options.firstPageSize ?? DEFAULT_FIRST_PAGE_SIZE;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#group = :group',
          // DynamoDB's TTL may take a while to delete an expired membership: do not count it.
          FilterExpression: '#expires > :now',
          ProjectionExpression: '#connection',
          ExpressionAttributeNames: {
            '#group': MembershipTable.groupAttribute,
            '#connection': MembershipTable.connectionAttribute,
            '#expires': MembershipTable.expiryAttribute,
          },
          ExpressionAttributeValues: { ':group': group, ':now': Math.floor(this.now() / 1000) },
          ExclusiveStartKey: startKey,
          Limit: limit,
        }),
      );
      limit = this.options.pageSize;
      const connections = (page.Items ?? []).map(
        (item) => item[MembershipTable.connectionAttribute] as string,
      );
      if (connections.length > 0) yield connections;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }

  private key(group: string, connectionId: string) {
    return { [MembershipTable.groupAttribute]: group, [MembershipTable.connectionAttribute]: connectionId };
  }

  /** Deletes up to 25 items, retrying what DynamoDB leaves unprocessed with a growing pause. */
  private async deleteBatch(keys: Array<Record<string, string>>): Promise<void> {
    let requests = keys.map((Key) => ({ DeleteRequest: { Key } }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt > UNPROCESSED_RETRIES) {
        throw new Error(
          `${requests.length} memberships were still unprocessed after ${UNPROCESSED_RETRIES} retries.`,
        );
      }
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * 2 ** attempt));
      const result = await this.client.send(
        new BatchWriteCommand({ RequestItems: { [this.tableName]: requests } }),
      );
      requests = (result.UnprocessedItems?.[this.tableName] ?? []) as typeof requests;
    }
  }
}

/** A group name is a non-empty string that fits a DynamoDB key. */
function checkGroupName(group: unknown): asserts group is string {
  if (typeof group !== 'string' || group === '') {
    throw new TypeError(`A group name is a non-empty string, not ${JSON.stringify(group)}.`);
  }
  if (Buffer.byteLength(group) > MAX_GROUP_NAME_BYTES) {
    throw new TypeError(
      `A group name has at most ${MAX_GROUP_NAME_BYTES} bytes; this one has ${Buffer.byteLength(group)}.`,
    );
  }
}
