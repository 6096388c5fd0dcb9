import type { DynamoDBRecord } from 'aws-lambda';
import { NOTIFICATIONS_SERVICE } from '../metric-names';

/**
 * Why the notification function set a record aside itself: `undeliverable`, it can never be
 * sent (a group name that is not one, a message too large even as keys); `failing`, it kept
 * failing and Lambda's retries were about to run out.
 */
export type SetAsideReason = 'undeliverable' | 'failing';

/** A stream record the notification function sets aside, with what a person or `npm run redrive` needs. */
export interface UndeliverableRecord {
  readonly kind: SetAsideReason;
  /** What went wrong. */
  readonly reason: string;
  /** The table's label in rohrpost.config.ts. */
  readonly table: string;
  readonly record: DynamoDBRecord;
  /** The groups whose message was not sent; the record's other groups got theirs. @default all of them */
  readonly groups?: readonly string[];
  /** How many times the record failed before it was set aside. @default unknown */
  readonly attempts?: number;
}

/**
 * A message of the dead-letter queue, read: one the notification function sent (the record
 * itself, its content included), or Lambda's on-failure record for stream batches it gave up
 * on, which describes them by sequence number only
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html).
 */
export type DeadLetter =
  | (Omit<UndeliverableRecord, 'table'> & {
      readonly source: 'function';
      readonly table: string;
      readonly sequenceNumber: string;
      /** The images were left out to fit SQS's 256 KB; the keys remain. */
      readonly imagesOmitted: boolean;
    })
  | {
      readonly source: 'lambda';
      /** `RetryAttemptsExhausted` or `RecordAgeExceeded`. */
      readonly condition: string;
      readonly streamArn: string;
      readonly shardId: string;
      readonly startSequenceNumber: string;
      readonly endSequenceNumber: string;
      readonly batchSize: number;
      /** When Lambda gave up, ISO 8601. */
      readonly timestamp: string;
    };

/** How long the dead-letter queue keeps a message: SQS's longest, 14 days. */
export const DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 60 * 60;

/** SQS takes messages up to 256 KB; a record with both images can be larger. */
const MAX_BODY_BYTES = 256 * 1024;

/**
 * The body of the function's dead letter: JSON with the reason, the record's identity and the
 * record itself, or, when that would exceed SQS's limit, the record without its images.
 */
export function deadLetterBody(letter: UndeliverableRecord): string {
  const { record } = letter;
  const describe = (sent: DynamoDBRecord, imagesOmitted: boolean) =>
    JSON.stringify({
      source: NOTIFICATIONS_SERVICE,
      kind: letter.kind,
      reason: letter.reason,
      table: letter.table,
      eventID: record.eventID,
      sequenceNumber: record.dynamodb?.SequenceNumber,
      eventSourceARN: record.eventSourceARN,
      ...(letter.groups && { groups: letter.groups }),
      ...(letter.attempts !== undefined && { attempts: letter.attempts }),
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

/** What a dead-letter queue message is, or `undefined` for a message of neither kind. */
export function readDeadLetter(body: string): DeadLetter | undefined {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (parsed.source === NOTIFICATIONS_SERVICE) {
    const record = parsed.record as DynamoDBRecord | undefined;
    if (typeof parsed.reason !== 'string' || !record?.dynamodb) return undefined;
    return {
      source: 'function',
      kind: parsed.kind === 'failing' ? 'failing' : 'undeliverable',
      reason: parsed.reason,
      table: typeof parsed.table === 'string' ? parsed.table : '',
      sequenceNumber: record.dynamodb.SequenceNumber ?? '',
      record,
      imagesOmitted: parsed.imagesOmitted === true,
      ...(Array.isArray(parsed.groups) && { groups: parsed.groups as string[] }),
      ...(typeof parsed.attempts === 'number' && { attempts: parsed.attempts }),
    };
  }
  const batch = parsed.DDBStreamBatchInfo as Record<string, unknown> | undefined;
  const context = parsed.requestContext as Record<string, unknown> | undefined;
  if (!batch || typeof batch.streamArn !== 'string') return undefined;
  return {
    source: 'lambda',
    condition: typeof context?.condition === 'string' ? context.condition : '',
    streamArn: batch.streamArn,
    shardId: String(batch.shardId),
    startSequenceNumber: String(batch.startSequenceNumber),
    endSequenceNumber: String(batch.endSequenceNumber),
    batchSize: Number(batch.batchSize),
    timestamp: typeof parsed.timestamp === 'string' ? parsed.timestamp : '',
  };
}
