import type { CancellationReason } from '@aws-sdk/client-dynamodb';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { HistorySettings } from '../environment';
import type { GroupPosition } from '../protocol/position';
import { newEpoch } from '../protocol/position';
import { batchWrite } from './batch-write';
import type { Head } from './history-table';
import { epochSeconds, HistoryKeys, HistoryTable, liveHead } from './history-table';

/** A stream record's message to a group, with its place in the group's history. */
export interface SequencedMessage {
  readonly position: GroupPosition;
  /** The message as it is (or was first) sent. */
  readonly payload: string;
  /** An earlier attempt at the record already sent it to every member. */
  readonly delivered: boolean;
}

/** A record's message to a group that reached every member. */
export interface DeliveredMessage {
  readonly group: string;
  readonly recordId: string;
  readonly position: GroupPosition;
}

/** Gives each stream record's message to a group its place in the group's history. */
export interface Sequencer {
  /**
   * Gives the record's message the group's next seq and keeps it for recovery, or, for a record
   * an earlier attempt placed already, returns that place. `render` builds the message for a
   * position; it is called again for a record placed before, so it must be deterministic.
   */
  append(
    group: string,
    recordId: string,
    render: (position: GroupPosition) => string,
  ): Promise<SequencedMessage>;
  /** Remembers that these messages reached every member, so that a retried batch does not send them again. */
  markDelivered(messages: readonly DeliveredMessage[]): Promise<void>;
}

export interface DynamoDbSequencerOptions {
  /** The clock, in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
  /** @default a random 8-character epoch */
  readonly newEpoch?: () => string;
}

interface Waiting {
  readonly recordId: string;
  readonly render: (position: GroupPosition) => string;
  resolve(message: SequencedMessage): void;
  reject(error: unknown): void;
}

/** A transaction holds 100 items: the head and two per message. */
const MESSAGES_PER_TRANSACTION = 49;
/** A transaction holds 4 MB; messages are at most 128 KB each. */
const TRANSACTION_PAYLOAD_BYTES = 3 * 1024 * 1024;
/** Attempts at one transaction while other writers keep changing the group. */
const MAX_ATTEMPTS = 10;
/** Groups whose head an instance remembers. */
const HEAD_CACHE_SIZE = 10_000;

/**
 * The sequencer over the history table (history-table.ts). One transaction writes the group's
 * new head, each message, and each record's place: the head's condition makes every seq
 * follow the one before with no gap, and the record's condition makes a retried record find
 * its first place instead of taking a second one.
 *
 * Appends to one group made while its transaction is under way wait, and go together in the
 * next one (up to 49), so a busy group costs one transaction per batch, not per message. The
 * head is remembered per instance, so a transaction needs no read before it; another writer's
 * change to the group fails the head's condition, whose old item is the fresh head to retry with.
 */
export class DynamoDbSequencer implements Sequencer {
  private readonly now: () => number;
  private readonly newEpoch: () => string;
  private readonly heads = new Map<string, Head>();
  private readonly queues = new Map<string, Waiting[]>();

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly settings: HistorySettings,
    options: DynamoDbSequencerOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.newEpoch = options.newEpoch ?? newEpoch;
  }

  append(
    group: string,
    recordId: string,
    render: (position: GroupPosition) => string,
  ): Promise<SequencedMessage> {
    return new Promise((resolve, reject) => {
      const waiting: Waiting = { recordId, render, resolve, reject };
      const queue = this.queues.get(group);
      if (queue) return void queue.push(waiting);
      this.queues.set(group, [waiting]);
      // Appends made in this same turn join the first transaction.
      queueMicrotask(() => void this.drain(group));
    });
  }

  async markDelivered(messages: readonly DeliveredMessage[]): Promise<void> {
    const expiresAt = epochSeconds(this.now) + this.settings.recordLifetimeSeconds;
    await batchWrite(
      this.client,
      this.settings.tableName,
      messages.map(({ group, recordId, position }) => ({
        PutRequest: {
          Item: {
            [HistoryTable.groupAttribute]: group,
            [HistoryTable.keyAttribute]: HistoryKeys.record(recordId),
            epoch: position.epoch,
            seq: position.seq,
            delivered: true,
            [HistoryTable.expiryAttribute]: expiresAt,
          },
        },
      })),
    );
  }

  private async drain(group: string): Promise<void> {
    const queue = this.queues.get(group)!;
    while (queue.length > 0) {
      const batch = queue.splice(0, MESSAGES_PER_TRANSACTION);
      try {
        await this.commit(group, batch, queue);
      } catch (error) {
        for (const waiting of batch) waiting.reject(error);
      }
    }
    this.queues.delete(group);
  }

  /** Places `batch`, retrying while other writers change the group; what is placed is removed from it. */
  private async commit(group: string, batch: Waiting[], queue: Waiting[]): Promise<void> {
    for (let attempt = 1; batch.length > 0; attempt++) {
      if (attempt > MAX_ATTEMPTS) {
        throw new Error(
          `Could not give ${batch.length} messages a place in group '${group}' in ${MAX_ATTEMPTS} attempts: ` +
            'other writers kept changing it.',
        );
      }
      const now = epochSeconds(this.now);
      const head = await this.headOf(group, now);
      const epoch = head?.epoch ?? this.newEpoch();
      const base = head?.top ?? 0;
      const payloads = renderWithin(batch, epoch, base, queue);
      const top = base + batch.length;
      try {
        await this.client.send(
          new TransactWriteCommand({
            TransactItems: [
              this.headUpdate(
                group,
                head,
                { epoch, top, expiresAt: now + this.settings.positionLifetimeSeconds },
                now,
              ),
              ...batch.flatMap((waiting, i) =>
                this.messageItems(group, waiting.recordId, { epoch, seq: base + i + 1 }, payloads[i]!, now),
              ),
            ],
          }),
        );
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        batch.splice(0, batch.length, ...this.settle(group, batch, error.CancellationReasons ?? [], now));
        if (
          error.CancellationReasons?.some(
            (reason) => reason.Code !== 'ConditionalCheckFailed' && reason.Code !== 'None',
          )
        ) {
          // A conflicting transaction or throttling: wait a little, with jitter, and try again.
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * 2 ** attempt));
        }
        continue;
      }
      this.remember(group, { epoch, top, expiresAt: now + this.settings.positionLifetimeSeconds });
      batch.forEach((waiting, i) =>
        waiting.resolve({ position: { epoch, seq: base + i + 1 }, payload: payloads[i]!, delivered: false }),
      );
      batch.length = 0;
    }
  }

  /**
   * After a cancelled transaction: records placed before get their first place, the head is
   * refreshed when it was stale, and the rest are returned to be tried again.
   */
  private settle(group: string, batch: Waiting[], reasons: CancellationReason[], now: number): Waiting[] {
    const [headReason] = reasons;
    if (headReason?.Code === 'ConditionalCheckFailed') {
      const fresh = liveHead(headReason.Item && unmarshall(headReason.Item), now);
      if (fresh) this.remember(group, fresh);
      else this.heads.delete(group);
    }
    return batch.filter((waiting, i) => {
      const reason = reasons[1 + 2 * i];
      if (reason?.Code !== 'ConditionalCheckFailed' || !reason.Item) return true;
      const earlier = unmarshall(reason.Item);
      const position = { epoch: String(earlier.epoch), seq: Number(earlier.seq) };
      waiting.resolve({ position, payload: waiting.render(position), delivered: earlier.delivered === true });
      return false;
    });
  }

  /** The group's live head: the one this instance wrote last, else a strongly consistent read. */
  private async headOf(group: string, now: number): Promise<Head | undefined> {
    const cached = this.heads.get(group);
    if (cached && cached.expiresAt > now) return cached;
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.settings.tableName,
        Key: { [HistoryTable.groupAttribute]: group, [HistoryTable.keyAttribute]: HistoryKeys.head },
        ConsistentRead: true,
      }),
    );
    const head = liveHead(Item, now);
    if (head) this.remember(group, head);
    return head;
  }

  private remember(group: string, head: Head): void {
    this.heads.delete(group);
    this.heads.set(group, head);
    if (this.heads.size > HEAD_CACHE_SIZE) this.heads.delete(this.heads.keys().next().value!);
  }

  /** Moves the head to `next`, on condition that it is still `head` (or, for none, that there is none). */
  private headUpdate(group: string, head: Head | undefined, next: Head, now: number) {
    return {
      Update: {
        TableName: this.settings.tableName,
        Key: { [HistoryTable.groupAttribute]: group, [HistoryTable.keyAttribute]: HistoryKeys.head },
        UpdateExpression: 'SET #epoch = :epoch, #top = :top, #expires = :expires',
        ConditionExpression: head
          ? '#epoch = :epoch AND #top = :base AND #expires > :now'
          : 'attribute_not_exists(#epoch) OR #expires <= :now',
        ExpressionAttributeNames: {
          '#epoch': 'epoch',
          '#top': 'top',
          '#expires': HistoryTable.expiryAttribute,
        },
        ExpressionAttributeValues: {
          ':epoch': next.epoch,
          ':top': next.top,
          ':expires': next.expiresAt,
          ':now': now,
          ...(head && { ':base': head.top }),
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
      },
    };
  }

  /** The record's place, on condition that it has none yet, and the message itself. */
  private messageItems(
    group: string,
    recordId: string,
    position: GroupPosition,
    payload: string,
    now: number,
  ) {
    const { tableName, recordLifetimeSeconds, retentionSeconds } = this.settings;
    const { groupAttribute, keyAttribute, expiryAttribute } = HistoryTable;
    return [
      {
        Put: {
          TableName: tableName,
          Item: {
            [groupAttribute]: group,
            [keyAttribute]: HistoryKeys.record(recordId),
            epoch: position.epoch,
            seq: position.seq,
            [expiryAttribute]: now + recordLifetimeSeconds,
          },
          ConditionExpression: 'attribute_not_exists(#key)',
          ExpressionAttributeNames: { '#key': keyAttribute },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
        },
      },
      {
        Put: {
          TableName: tableName,
          Item: {
            [groupAttribute]: group,
            [keyAttribute]: HistoryKeys.message(position.seq),
            epoch: position.epoch,
            seq: position.seq,
            payload,
            [expiryAttribute]: now + retentionSeconds,
          },
        },
      },
    ];
  }
}

/**
 * Renders the batch's messages from `base + 1` on; those past the transaction's size go back
 * to the front of the queue, for the next transaction.
 */
function renderWithin(batch: Waiting[], epoch: string, base: number, queue: Waiting[]): string[] {
  const payloads: string[] = [];
  let bytes = 0;
  for (const [i, waiting] of batch.entries()) {
    const payload = waiting.render({ epoch, seq: base + i + 1 });
    bytes += Buffer.byteLength(payload);
    if (i > 0 && bytes > TRANSACTION_PAYLOAD_BYTES) {
      queue.unshift(...batch.splice(i));
      break;
    }
    payloads.push(payload);
  }
  return payloads;
}
