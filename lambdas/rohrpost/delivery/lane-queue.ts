import { ChangeMessageVisibilityCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { GroupPosition } from '../protocol/position';
import type { LaneQueueEntry } from './lane-messages';
import { splitEntry, wakeEntries } from './lane-messages';

/** The lanes' FIFO queue, as the stream function and the lane workers use it. */
export interface LaneQueue {
  /** Wakes each of `shards` lanes of the group for the message at `position`. */
  wake(group: string, position: GroupPosition, shards: number): Promise<void>;
  /** Asks for the group's shards to be doubled from layout `version`. */
  requestSplit(group: string, version: number): Promise<void>;
  /** Makes a received message visible again after `seconds`: a failed lane is retried with backoff. */
  retryIn(receiptHandle: string, seconds: number): Promise<void>;
}

/** SendMessageBatch takes ten entries. */
const BATCH_ENTRIES = 10;
/** Tries at the entries SQS reports failed in a batch. */
const ENTRY_ATTEMPTS = 3;

export class SqsLaneQueue implements LaneQueue {
  private client: SQSClient | undefined;

  constructor(private readonly queueUrl: string) {}

  async wake(group: string, position: GroupPosition, shards: number): Promise<void> {
    await this.send(wakeEntries(group, position, shards));
  }

  async requestSplit(group: string, version: number): Promise<void> {
    await this.send([splitEntry(group, version)]);
  }

  async retryIn(receiptHandle: string, seconds: number): Promise<void> {
    await this.sqs().send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  }

  private async send(entries: readonly LaneQueueEntry[]): Promise<void> {
    const batches = [];
    for (let i = 0; i < entries.length; i += BATCH_ENTRIES) batches.push(entries.slice(i, i + BATCH_ENTRIES));
    await Promise.all(batches.map((batch) => this.sendBatch(batch)));
  }

  private async sendBatch(entries: readonly LaneQueueEntry[]): Promise<void> {
    let pending = entries.map((entry, i) => ({ entry, id: String(i) }));
    for (let attempt = 1; pending.length > 0; attempt++) {
      const { Failed = [] } = await this.sqs().send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: pending.map(({ entry, id }) => ({
            Id: id,
            MessageBody: entry.body,
            MessageGroupId: entry.messageGroupId,
            MessageDeduplicationId: entry.deduplicationId,
          })),
        }),
      );
      if (Failed.length === 0) return;
      if (attempt >= ENTRY_ATTEMPTS || Failed.some((failure) => failure.SenderFault)) {
        const first = Failed[0]!;
        throw new Error(
          `The lanes' queue refused ${Failed.length} of ${pending.length} wake-ups: ${first.Code} ${first.Message ?? ''}`,
        );
      }
      const failed = new Set(Failed.map((failure) => failure.Id));
      pending = pending.filter(({ id }) => failed.has(id));
    }
  }

  private sqs(): SQSClient {
    // Created on first use: a plain reply never sends to the lanes.
    this.client ??= new SQSClient({});
    return this.client;
  }
}
