import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord } from 'aws-lambda';
import { NOTIFICATIONS_SERVICE } from '../metric-names';

/** A stream record whose change can never be notified, set aside for a person to look at. */
export interface UndeliverableRecord {
  /** Why it can never be notified. */
  readonly reason: string;
  /** The table's label in rohrpost.config.ts. */
  readonly table: string;
  readonly record: DynamoDBRecord;
}

/** Where undeliverable records go: the stack's dead-letter queue. */
export interface DeadLetters {
  send(letter: UndeliverableRecord): Promise<void>;
}

/** SQS takes messages up to 256 KB; a record with both images can be larger. */
const MAX_BODY_BYTES = 256 * 1024;

/**
 * The body of a dead letter: JSON with the reason, the record's identity and the record itself,
 * or, when that would exceed SQS's limit, the record without its images.
 */
export function deadLetterBody(letter: UndeliverableRecord): string {
  const { record } = letter;
  const describe = (sent: DynamoDBRecord, imagesOmitted: boolean) =>
    JSON.stringify({
      source: NOTIFICATIONS_SERVICE,
      reason: letter.reason,
      table: letter.table,
      eventID: record.eventID,
      sequenceNumber: record.dynamodb?.SequenceNumber,
      eventSourceARN: record.eventSourceARN,
      ...(imagesOmitted && { imagesOmitted }),
      record: sent,
    });
  const body = describe(record, false);
  if (Buffer.byteLength(body) <= MAX_BODY_BYTES) return body;
  const withoutImages = { ...record.dynamodb };
  delete withoutImages.NewImage;
  delete withoutImages.OldImage;
  return describe({ ...record, dynamodb: withoutImages }, true);
}

/** Dead letters sent to an SQS queue, the same one Lambda sends batches that failed every retry to. */
export class SqsDeadLetters implements DeadLetters {
  private client: SQSClient | undefined;

  constructor(private readonly queueUrl: string) {}

  async send(letter: UndeliverableRecord): Promise<void> {
    // Created on first use: most instances never send a dead letter.
    this.client ??= new SQSClient({});
    await this.client.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: deadLetterBody(letter) }),
    );
  }
}
