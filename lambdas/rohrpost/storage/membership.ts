import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeleteCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ApiGatewayLimits } from '../delivery/limits';
import { groupNameProblem } from '../protocol/group-name';
import { batchWrite } from './batch-write';
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

/** Memberships outlive the longest possible connection, then DynamoDB's TTL removes them. */
export const MEMBERSHIP_LIFETIME_SECONDS = ApiGatewayLimits.maxConnectionMs / 1000 + 60 * 60;
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
    await batchWrite(
      this.client,
      this.tableName,
      groups.map((group) => ({ DeleteRequest: { Key: this.key(group, connectionId) } })),
    );
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
          // A member who joined a moment ago is posted to: its subscribe reply counted on it.
          ConsistentRead: true,
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
}

/** A group name is a non-empty string that fits a DynamoDB key. */
function checkGroupName(group: unknown): asserts group is string {
  const problem = groupNameProblem(group);
  if (problem) throw new TypeError(problem);
}
