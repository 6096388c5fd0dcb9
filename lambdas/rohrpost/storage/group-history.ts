import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { HistorySettings } from '../environment';
import type { GroupPosition } from '../protocol/position';
import { newEpoch } from '../protocol/position';
import type { Head } from './history-table';
import { historyItems } from './history-query';
import { epochSeconds, HistoryKeys, HistoryTable, liveHead } from './history-table';
import type { ShardLayout } from './shard-layout';
import { layoutOf } from './shard-layout';

/** A group's position, and its layout when it has lanes (shard-layout.ts). */
export interface GroupState {
  readonly position: GroupPosition;
  /** @default none: the group is in one partition, without lanes */
  readonly layout?: ShardLayout;
}

/** What a subscribe with `since` gets back. */
export interface Recovery extends GroupState {
  /** The messages after `since`, oldest first; `undefined` when the group no longer has them all. */
  readonly messages?: readonly string[];
}

/** A group's history as a subscribing client reads it. */
export interface GroupHistory {
  /** The group's current position; a group without one starts its history here, at seq 0. */
  position(group: string): Promise<GroupPosition>;
  /** The group's position and layout: what a joining member reads, one Query. */
  state(group: string): Promise<GroupState>;
  /** The group's state and, when it still has all of them, the messages after `since`. */
  recover(group: string, since: GroupPosition): Promise<Recovery>;
}

export interface DynamoDbGroupHistoryOptions {
  /** The clock, in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
  /** @default a random 8-character epoch */
  readonly newEpoch?: () => string;
}

/**
 * Reads the history table (history-table.ts): a position is one strongly consistent Query of
 * the group's head and its lanes' layout, which sort next to each other; a recovery adds one
 * Query per 1 MB of missed messages. Messages past their retention, from another epoch, or beyond `maxMessages` back are not recoverable, even
 * when DynamoDB's TTL has not deleted them yet.
 */
export class DynamoDbGroupHistory implements GroupHistory {
  private readonly now: () => number;
  private readonly newEpoch: () => string;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly settings: Pick<HistorySettings, 'tableName' | 'maxMessages' | 'positionLifetimeSeconds'>,
    options: DynamoDbGroupHistoryOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.newEpoch = options.newEpoch ?? newEpoch;
  }

  async position(group: string): Promise<GroupPosition> {
    return (await this.state(group)).position;
  }

  async state(group: string): Promise<GroupState> {
    const now = epochSeconds(this.now);
    const { Items = [] } = await this.client.send(
      new QueryCommand({
        TableName: this.settings.tableName,
        KeyConditionExpression: '#group = :group AND #key BETWEEN :head AND :layout',
        ExpressionAttributeNames: {
          '#group': HistoryTable.groupAttribute,
          '#key': HistoryTable.keyAttribute,
        },
        ExpressionAttributeValues: {
          ':group': group,
          ':head': HistoryKeys.head,
          ':layout': HistoryKeys.layout,
        },
        ConsistentRead: true,
      }),
    );
    const itemOf = (key: string) => Items.find((item) => item[HistoryTable.keyAttribute] === key);
    const layout = layoutOf(itemOf(HistoryKeys.layout));
    const position = await this.livePosition(group, liveHead(itemOf(HistoryKeys.head), now), now);
    return { position, ...(layout && { layout }) };
  }

  /** The head's position, or, for a group without a live head, the one this starts. */
  private async livePosition(group: string, head: Head | undefined, now: number): Promise<GroupPosition> {
    if (head) return { epoch: head.epoch, seq: head.top };
    // A client's position must count in an epoch that later messages share.
    const epoch = this.newEpoch();
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.settings.tableName,
          Item: {
            ...this.headKey(group),
            epoch,
            top: 0,
            [HistoryTable.expiryAttribute]: now + this.settings.positionLifetimeSeconds,
          },
          ConditionExpression: 'attribute_not_exists(#epoch) OR #expires <= :now',
          ExpressionAttributeNames: { '#epoch': 'epoch', '#expires': HistoryTable.expiryAttribute },
          ExpressionAttributeValues: { ':now': now },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { epoch, seq: 0 };
    } catch (error) {
      // Another writer started the group first: its head is the group's.
      const winner =
        error instanceof ConditionalCheckFailedException && error.Item
          ? liveHead(unmarshall(error.Item), now)
          : undefined;
      if (!winner) throw error;
      return { epoch: winner.epoch, seq: winner.top };
    }
  }

  async recover(group: string, since: GroupPosition): Promise<Recovery> {
    const state = await this.state(group);
    const { position } = state;
    const missed = position.seq - since.seq;
    if (since.epoch !== position.epoch || missed < 0 || missed > this.settings.maxMessages) return state;
    if (missed === 0) return { ...state, messages: [] };
    const messages: string[] = [];
    const now = epochSeconds(this.now);
    const items = historyItems(this.client, this.settings.tableName, group, '#key BETWEEN :from AND :to', {
      ':from': HistoryKeys.message(since.seq + 1),
      ':to': HistoryKeys.message(position.seq),
    });
    for await (const item of items) {
      const expected = since.seq + messages.length + 1;
      const usable =
        item.epoch === position.epoch &&
        item.seq === expected &&
        typeof item.payload === 'string' &&
        (item[HistoryTable.expiryAttribute] as number) > now;
      if (!usable) return state;
      messages.push(item.payload as string);
    }
    return messages.length === missed ? { ...state, messages } : state;
  }

  private headKey(group: string) {
    return { [HistoryTable.groupAttribute]: group, [HistoryTable.keyAttribute]: HistoryKeys.head };
  }
}
