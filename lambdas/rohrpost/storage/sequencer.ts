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

/** The place a record's message to a group got, and whether it reached every member. */
export interface MessagePlace {
  readonly group: string;
  readonly recordId: string;
  readonly position: GroupPosition;
  readonly delivered: boolean;
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
  /**
   * Remembers these places for `lifetimeSeconds` (the record lifetime by default): a record sent
   * again (a retried batch, a redrive from the dead-letter queue) gets its place back, and what
   * reached every member is not sent again.
   */
  remember(places: readonly MessagePlace[], lifetimeSeconds?: number): Promise<void>;
}

export interface DynamoDbSequencerOptions {
  /** The clock, in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
  /** @default a random 8-character epoch */
  readonly newEpoch?: () => string;
}

interface Waiting {
  readonly group: string;
  readonly recordId: string;
  readonly render: (position: GroupPosition) => string;
  resolve(message: SequencedMessage): void;
  reject(error: unknown): void;
}

/** A message in a transaction being built: who waits for it, its place and its bytes. */
interface Placing {
  readonly waiting: Waiting;
  readonly position: GroupPosition;
  readonly payload: string;
}

/** A transaction holds 100 items: a head per group, and two items per message. */
const TRANSACTION_ITEMS = 100;
/** A transaction holds 4 MB; messages are at most 128 KB each. */
const TRANSACTION_PAYLOAD_BYTES = 3 * 1024 * 1024;
/** Attempts at one transaction while other writers keep changing its groups. */
const MAX_ATTEMPTS = 10;
/** Groups whose head an instance remembers. */
const HEAD_CACHE_SIZE = 10_000;

/**
 * The sequencer over the history table (history-table.ts). One transaction writes each
 * group's new head, each message, and each record's place: the head's condition makes every
 * seq follow the one before with no gap, and the record's condition makes a retried record
 * find its first place instead of taking a second one.
 *
 * Appends wait while a transaction is under way and go together in the next one, whatever
 * their groups (up to 100 items and 3 MB), so an invocation's notifications cost a transaction
 * or two, not one each. The heads are remembered per instance, so a transaction needs no read
 * before it; another writer's change to a group fails its head's condition, whose old item is
 * the fresh head to retry with.
 */
export class DynamoDbSequencer implements Sequencer {
  private readonly now: () => number;
  private readonly newEpoch: () => string;
  private readonly heads = new Map<string, Head>();
  private readonly queue: Waiting[] = [];
  private draining = false;

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
      this.queue.push({ group, recordId, render, resolve, reject });
      if (this.draining) return;
      this.draining = true;
      // Appends made in this same turn join the first transaction.
      queueMicrotask(() => void this.drain());
    });
  }

  async remember(places: readonly MessagePlace[], lifetimeSeconds?: number): Promise<void> {
    const expiresAt = epochSeconds(this.now) + (lifetimeSeconds ?? this.settings.recordLifetimeSeconds);
    await batchWrite(
      this.client,
      this.settings.tableName,
      places.map(({ group, recordId, position, delivered }) => ({
        PutRequest: {
          Item: {
            [HistoryTable.groupAttribute]: group,
            [HistoryTable.keyAttribute]: HistoryKeys.record(recordId),
            epoch: position.epoch,
            seq: position.seq,
            ...(delivered && { delivered }),
            [HistoryTable.expiryAttribute]: expiresAt,
          },
        },
      })),
    );
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, TRANSACTION_ITEMS / 2);
      try {
        await this.commit(batch);
      } catch (error) {
        for (const waiting of batch) waiting.reject(error);
      }
    }
    this.draining = false;
  }

  /** Places `batch`, retrying while other writers change its groups; what is placed is removed from it. */
  private async commit(batch: Waiting[]): Promise<void> {
    for (let attempt = 1; batch.length > 0; attempt++) {
      if (attempt > MAX_ATTEMPTS) {
        throw new Error(
          `Could not give ${batch.length} messages a place in their groups in ${MAX_ATTEMPTS} attempts: ` +
            'other writers kept changing them.',
        );
      }
      const now = epochSeconds(this.now);
      const heads = await this.headsOf(batch, now);
      const { placing, next } = this.place(batch, heads, now);
      try {
        await this.client.send(
          new TransactWriteCommand({
            TransactItems: [
              ...[...next].map(([group, head]) => this.headUpdate(group, heads.get(group), head, now)),
              ...placing.flatMap(({ waiting, position, payload }) =>
                this.messageItems(waiting.group, waiting.recordId, position, payload, now),
              ),
            ],
          }),
        );
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const reasons = error.CancellationReasons ?? [];
        batch.splice(0, batch.length, ...this.settle([...next.keys()], placing, reasons, now));
        if (reasons.some((reason) => reason.Code !== 'ConditionalCheckFailed' && reason.Code !== 'None')) {
          // A conflicting transaction or throttling: wait a little, with jitter, and try again.
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * 2 ** attempt));
        }
        continue;
      }
      for (const [group, head] of next) this.rememberHead(group, head);
      for (const { waiting, position, payload } of placing)
        waiting.resolve({ position, payload, delivered: false });
      batch.length = 0;
    }
  }

  /**
   * Gives the batch's messages their places after their groups' heads, as far as one
   * transaction holds them; those beyond go back to the front of the queue.
   */
  private place(
    batch: Waiting[],
    heads: ReadonlyMap<string, Head | undefined>,
    now: number,
  ): { placing: Placing[]; next: Map<string, Head> } {
    const next = new Map<string, Head>();
    const placing: Placing[] = [];
    let bytes = 0;
    for (const [i, waiting] of batch.entries()) {
      const current = next.get(waiting.group) ?? heads.get(waiting.group);
      const position = { epoch: current?.epoch ?? this.newEpoch(), seq: (current?.top ?? 0) + 1 };
      const payload = waiting.render(position);
      bytes += Buffer.byteLength(payload);
      const items = next.size + (next.has(waiting.group) ? 0 : 1) + 2 * (placing.length + 1);
      if (i > 0 && (items > TRANSACTION_ITEMS || bytes > TRANSACTION_PAYLOAD_BYTES)) {
        this.queue.unshift(...batch.splice(i));
        break;
      }
      placing.push({ waiting, position, payload });
      next.set(waiting.group, {
        epoch: position.epoch,
        top: position.seq,
        expiresAt: now + this.settings.positionLifetimeSeconds,
      });
    }
    return { placing, next };
  }

  /**
   * After a cancelled transaction: records placed before get their first place, stale heads
   * are refreshed, and the rest are returned to be tried again. The reasons come in the
   * transaction's order: the heads of `groups`, then a record's place and its message for each
   * of `placing`.
   */
  private settle(
    groups: readonly string[],
    placing: readonly Placing[],
    reasons: readonly CancellationReason[],
    now: number,
  ): Waiting[] {
    groups.forEach((group, i) => {
      const reason = reasons[i];
      if (reason?.Code !== 'ConditionalCheckFailed') return;
      const fresh = liveHead(reason.Item && unmarshall(reason.Item), now);
      if (fresh) this.rememberHead(group, fresh);
      else this.heads.delete(group);
    });
    return placing.flatMap(({ waiting }, i) => {
      const reason = reasons[groups.length + 2 * i];
      if (reason?.Code !== 'ConditionalCheckFailed' || !reason.Item) return [waiting];
      const earlier = unmarshall(reason.Item);
      const position = { epoch: String(earlier.epoch), seq: Number(earlier.seq) };
      waiting.resolve({ position, payload: waiting.render(position), delivered: earlier.delivered === true });
      return [];
    });
  }

  /** The live heads of the batch's groups: those this instance wrote last, else strongly consistent reads. */
  private async headsOf(batch: readonly Waiting[], now: number): Promise<Map<string, Head | undefined>> {
    const groups = [...new Set(batch.map((waiting) => waiting.group))];
    const heads = await Promise.all(groups.map((group) => this.headOf(group, now)));
    return new Map(groups.map((group, i) => [group, heads[i]]));
  }

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
    if (head) this.rememberHead(group, head);
    return head;
  }

  private rememberHead(group: string, head: Head): void {
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
