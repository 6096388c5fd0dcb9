import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { HistorySettings } from '../environment';
import type { GroupPosition } from '../protocol/position';
import { historyItems } from './history-query';
import { epochSeconds, HistoryKeys, HistoryTable, liveHead } from './history-table';
import { MembershipTable } from './membership-table';
import type { ShardLayout, ShardSize } from './shard-layout';
import { firstLayout, LAYOUT_ATTRIBUTES, layoutOf, split, splitting } from './shard-layout';

/** A lane's watermark: the last message it delivered. */
export type Watermark = GroupPosition;

/** A lane's item: its watermark and its shard's size, each as far as known. */
export interface LaneMark {
  readonly watermark?: Watermark;
  readonly size?: ShardSize;
}

/** What a lane reads of its group's history. */
export interface LaneMessage {
  readonly seq: number;
  readonly payload: string;
}

/** The group's head moved while a layout change was being made: read it again and retry. */
export class LayoutConflictError extends Error {
  constructor(group: string) {
    super(`Group '${group}' changed while its layout was being changed: try again.`);
    this.name = 'LayoutConflictError';
  }
}

/** Tries at a layout change while messages keep moving the group's head, with a growing, jittered pause. */
const HEAD_ATTEMPTS = 10;

/**
 * The lanes' bookkeeping over the history table (history-table.ts) and the membership table:
 * a group's layout (kept in both, changed in one transaction, so a joining member reads it with
 * the group's position and the stream function with the group's first members), each lane's
 * watermark, and the messages a lane sends.
 *
 * Every change of layout is conditioned on the group's head: it happens between two messages,
 * and `splitAt` is exactly the seq of the last message before it.
 */
export class LaneStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly settings: Pick<HistorySettings, 'tableName' | 'positionLifetimeSeconds'>,
    private readonly membershipTable: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** The group's head position, read strongly consistently; `undefined` for a group without a live one. */
  async head(group: string): Promise<GroupPosition | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.settings.tableName,
        Key: this.historyKey(group, HistoryKeys.head),
        ConsistentRead: true,
      }),
    );
    const head = liveHead(Item, epochSeconds(this.now));
    return head && { epoch: head.epoch, seq: head.top };
  }

  /**
   * Gives a group lanes from its next message on (one shard; its lane starts after the current
   * head). Returns the layout the group has: this one, or the one another writer gave it first.
   */
  async createLanes(group: string): Promise<ShardLayout> {
    return this.changeLayout(group, undefined, (position) => firstLayout(position.epoch, position.seq), {
      newLanes: (layout) => [{ shard: 0, seq: layout.inlineUntil }],
    });
  }

  /** Announces a split: joins from now on go to both layouts. */
  async beginSplit(group: string, layout: ShardLayout): Promise<ShardLayout> {
    const next = splitting(layout);
    await this.client.send(
      new TransactWriteCommand({ TransactItems: this.layoutWrites(group, next, layout) }),
    );
    return next;
  }

  /**
   * Ends a split whose members were copied: messages after the current head go by the doubled
   * shards. The new lanes start with `sizes`, by new lane, the members the copy counted for them,
   * so that their first run goes at their shard's pace (lane-pace.ts).
   */
  async finishSplit(group: string, layout: ShardLayout, sizes: readonly number[]): Promise<ShardLayout> {
    const shards = layout.shards * 2;
    return this.changeLayout(group, layout, (position) => split(layout, position.epoch, position.seq), {
      newLanes: (next) =>
        Array.from({ length: layout.shards }, (_, i) => ({
          shard: layout.shards + i,
          seq: next.splitAt,
          size: { members: sizes[i]!, shards },
        })),
    });
  }

  /** Records a lane's shard size with its watermark; a lane without a watermark item is left alone. */
  async recordSize(group: string, shard: number, size: ShardSize): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.settings.tableName,
          Key: this.historyKey(group, HistoryKeys.watermark(shard)),
          UpdateExpression: 'SET #members = :members, #memberShards = :memberShards',
          ConditionExpression: 'attribute_exists(#seq)',
          ExpressionAttributeNames: { '#members': 'members', '#memberShards': 'memberShards', '#seq': 'seq' },
          ExpressionAttributeValues: { ':members': size.members, ':memberShards': size.shards },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** A lane's watermark; `undefined` when it has delivered nothing and was not started at a seq. */
  async watermark(group: string, shard: number): Promise<Watermark | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.settings.tableName,
        Key: this.historyKey(group, HistoryKeys.watermark(shard)),
        ConsistentRead: true,
      }),
    );
    if (!Item || typeof Item.epoch !== 'string' || typeof Item.seq !== 'number') return undefined;
    return { epoch: Item.epoch, seq: Item.seq };
  }

  /** Every lane's item of the group, by shard, read strongly consistently: one Query. */
  async laneMarks(group: string): Promise<Map<number, LaneMark>> {
    const marks = new Map<number, LaneMark>();
    const items = historyItems(this.client, this.settings.tableName, group, 'begins_with(#key, :prefix)', {
      ':prefix': HistoryKeys.watermarkPrefix,
    });
    for await (const item of items) {
      const shard = Number(
        (item[HistoryTable.keyAttribute] as string).slice(HistoryKeys.watermarkPrefix.length),
      );
      marks.set(shard, {
        ...(typeof item.epoch === 'string' &&
          typeof item.seq === 'number' && { watermark: { epoch: item.epoch, seq: item.seq } }),
        ...(typeof item.members === 'number' &&
          typeof item.memberShards === 'number' && {
            size: { members: item.members, shards: item.memberShards },
          }),
      });
    }
    return marks;
  }

  /**
   * Moves a lane's watermark to `to`, on condition that it is still `from`: only one worker
   * runs a lane at a time (its FIFO message group), and this would catch a second one. `size`
   * is the shard's, for the pace of its group's lanes (lane-pace.ts).
   */
  async advance(
    group: string,
    shard: number,
    from: Watermark | undefined,
    to: Watermark,
    size?: ShardSize,
  ): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.settings.tableName,
        Key: this.historyKey(group, HistoryKeys.watermark(shard)),
        UpdateExpression: `SET #epoch = :epoch, #seq = :seq, #expires = :expires${
          size ? ', #members = :members, #memberShards = :memberShards' : ''
        }`,
        ConditionExpression: from ? '#epoch = :fromEpoch AND #seq = :fromSeq' : 'attribute_not_exists(#seq)',
        ExpressionAttributeNames: {
          '#epoch': 'epoch',
          '#seq': 'seq',
          '#expires': HistoryTable.expiryAttribute,
          ...(size && { '#members': 'members', '#memberShards': 'memberShards' }),
        },
        ExpressionAttributeValues: {
          ':epoch': to.epoch,
          ':seq': to.seq,
          ':expires': epochSeconds(this.now) + this.settings.positionLifetimeSeconds,
          ...(from && { ':fromEpoch': from.epoch, ':fromSeq': from.seq }),
          ...(size && { ':members': size.members, ':memberShards': size.shards }),
        },
      }),
    );
  }

  /** The group's messages `from`..`to` of `epoch` that the history still has, in seq order. */
  async messages(group: string, epoch: string, from: number, to: number): Promise<LaneMessage[]> {
    const messages: LaneMessage[] = [];
    const now = epochSeconds(this.now);
    const items = historyItems(this.client, this.settings.tableName, group, '#key BETWEEN :from AND :to', {
      ':from': HistoryKeys.message(from),
      ':to': HistoryKeys.message(to),
    });
    for await (const item of items) {
      const usable =
        item.epoch === epoch &&
        typeof item.seq === 'number' &&
        typeof item.payload === 'string' &&
        (item[HistoryTable.expiryAttribute] as number) > now;
      if (usable) messages.push({ seq: item.seq as number, payload: item.payload as string });
    }
    return messages;
  }

  /**
   * Writes the layout `next` makes of `current` at the group's head, with the watermarks of the
   * lanes it starts, in one transaction conditioned on the head not moving and the layout not
   * changing; retried while messages move the head.
   */
  private async changeLayout(
    group: string,
    current: ShardLayout | undefined,
    next: (head: GroupPosition) => ShardLayout,
    {
      newLanes,
    }: { newLanes: (layout: ShardLayout) => Array<{ shard: number; seq: number; size?: ShardSize }> },
  ): Promise<ShardLayout> {
    for (let attempt = 1; attempt <= HEAD_ATTEMPTS; attempt++) {
      if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * 2 ** attempt));
      const head = await this.head(group);
      if (!head) throw new Error(`Group '${group}' has no position: it cannot have lanes yet.`);
      const layout = next(head);
      try {
        await this.client.send(
          new TransactWriteCommand({
            TransactItems: [
              ...this.layoutWrites(group, layout, current),
              {
                ConditionCheck: {
                  TableName: this.settings.tableName,
                  Key: this.historyKey(group, HistoryKeys.head),
                  ConditionExpression: '#epoch = :epoch AND #top = :top',
                  ExpressionAttributeNames: { '#epoch': 'epoch', '#top': 'top' },
                  ExpressionAttributeValues: { ':epoch': head.epoch, ':top': head.seq },
                },
              },
              ...newLanes(layout).map(({ shard, seq, size }) => ({
                Put: {
                  TableName: this.settings.tableName,
                  Item: {
                    ...this.historyKey(group, HistoryKeys.watermark(shard)),
                    epoch: head.epoch,
                    seq,
                    [HistoryTable.expiryAttribute]:
                      epochSeconds(this.now) + this.settings.positionLifetimeSeconds,
                    ...(size && { members: size.members, memberShards: size.shards }),
                  },
                },
              })),
            ],
          }),
        );
        return layout;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const [mirror, , headCheck] = error.CancellationReasons ?? [];
        if (mirror?.Code === 'ConditionalCheckFailed') {
          // Another writer changed the layout first: theirs is the group's.
          const theirs = layoutOf((await this.readLayout(group)) ?? undefined);
          if (theirs) return theirs;
        }
        if (headCheck?.Code !== 'ConditionalCheckFailed' && headCheck?.Code !== 'TransactionConflict')
          throw error;
      }
    }
    throw new LayoutConflictError(group);
  }

  /** The two copies of the layout, each written on condition that it is still `current` (or absent). */
  private layoutWrites(group: string, layout: ShardLayout, current: ShardLayout | undefined) {
    const names: Record<string, string> = { '#version': 'version' };
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    const removes: string[] = [];
    for (const [i, attribute] of LAYOUT_ATTRIBUTES.entries()) {
      names[`#a${i}`] = attribute;
      const value = layout[attribute];
      if (value === undefined) removes.push(`#a${i}`);
      else {
        sets.push(`#a${i} = :a${i}`);
        values[`:a${i}`] = value;
      }
    }
    const update = {
      UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
      ConditionExpression: current ? '#version = :current' : 'attribute_not_exists(#version)',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: { ...values, ...(current && { ':current': current.version }) },
    };
    // The membership table's copy sorts first among the members, who are read by their expiry.
    const mirror = {
      ...update,
      UpdateExpression: update.UpdateExpression.replace('SET ', 'SET #expires = :never, '),
      ExpressionAttributeNames: { ...names, '#expires': MembershipTable.expiryAttribute },
      ExpressionAttributeValues: {
        ...update.ExpressionAttributeValues,
        ':never': MembershipTable.layoutExpiresAt,
      },
    };
    return [
      { Update: { TableName: this.membershipTable, Key: this.membershipKey(group), ...mirror } },
      {
        Update: {
          TableName: this.settings.tableName,
          Key: this.historyKey(group, HistoryKeys.layout),
          ...update,
        },
      },
    ];
  }

  private async readLayout(group: string): Promise<Record<string, unknown> | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.membershipTable,
        Key: this.membershipKey(group),
        ConsistentRead: true,
      }),
    );
    return Item;
  }

  private membershipKey(group: string) {
    return {
      [MembershipTable.groupAttribute]: group,
      [MembershipTable.connectionAttribute]: MembershipTable.layoutKey,
    };
  }

  private historyKey(group: string, key: string) {
    return { [HistoryTable.groupAttribute]: group, [HistoryTable.keyAttribute]: key };
  }
}
