import type { _Record as StreamRecord } from '@aws-sdk/client-dynamodb-streams';
import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { DynamoDBRecord } from 'aws-lambda';
import type { DeadLetter } from '../../lambdas/rohrpost/deploy';
import { lambdaStreamRecord, readDeadLetter } from '../../lambdas/rohrpost/deploy';

export interface RedriveOptions {
  /** The dead-letter queue. */
  readonly queueUrl: string;
  /** The notification function, which sends the records again through the normal path. */
  readonly functionName: string;
  /** Only say what would be sent. */
  readonly dryRun: boolean;
  readonly sqs: SQSClient;
  readonly lambda: LambdaClient;
  /** Reads the records Lambda's on-failure records name by sequence number. */
  readonly streams: DynamoDBStreamsClient;
  /** Where each letter's fate is told. */
  readonly report: (line: string) => void;
}

export interface RedriveSummary {
  /** Letters whose records were all sent (or had been) and that were removed from the queue. */
  readonly redriven: number;
  /** Letters left in the queue: they failed again, can never be sent, or their records are gone. */
  readonly kept: number;
  /** Letters a dry run would send. */
  readonly wouldSend: number;
}

/** What the notification function answers a redrive (lambdas/rohrpost/runtime/notification-handler.ts). */
interface RedriveResponse {
  readonly redrive?: ReadonlyArray<{ sequenceNumber: string; outcome: string; reason?: string }>;
}

/** Records per invocation: well under Lambda's 6 MB payload for records of up to 400 KB each. */
const RECORDS_PER_INVOCATION = 10;
/** How long a letter stays hidden from other consumers while this redrive works on it. */
const VISIBILITY_SECONDS = 120;

/**
 * Sends the dead-letter queue's records through the notification function again: the records
 * the function set aside (their content is in the letter) and the batches Lambda gave up on
 * (only their sequence numbers are in the letter: the records are read back from the stream,
 * which keeps them 24 hours). The function places each message where its first attempt placed
 * it, so it goes out with its original id and seq, and skips what already reached every member:
 * nothing is sent twice. A letter is removed once all its records are sent; one that fails again,
 * can never be sent or whose records the stream no longer has stays, and is reported. Letters sent
 * while the redrive runs (a record that failed again) are left for the next one.
 */
export async function redriveDeadLetters(options: RedriveOptions): Promise<RedriveSummary> {
  const startedAt = Date.now();
  const seen = new Set<string>();
  const summary = { redriven: 0, kept: 0, wouldSend: 0 };
  for (;;) {
    const { Messages = [] } = await options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: options.queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: VISIBILITY_SECONDS,
        MessageSystemAttributeNames: ['SentTimestamp'],
      }),
    );
    const release = (receiptHandle: string | undefined) =>
      options.sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: options.queueUrl,
          ReceiptHandle: receiptHandle,
          VisibilityTimeout: 0,
        }),
      );
    const fresh = Messages.filter((message) => !seen.has(message.MessageId!));
    // A letter handled already came round again: it stays for the next redrive, visible.
    await Promise.all(
      Messages.filter((message) => seen.has(message.MessageId!)).map((message) =>
        release(message.ReceiptHandle),
      ),
    );
    if (fresh.length === 0) break;
    for (const message of fresh) {
      seen.add(message.MessageId!);
      if (Number(message.Attributes?.SentTimestamp) >= startedAt) {
        await release(message.ReceiptHandle);
        continue;
      }
      const letter = readDeadLetter(message.Body ?? '');
      const outcome = letter
        ? await redriveLetter(letter, options)
        : { done: false, line: `kept: not a rohrpost dead letter: ${(message.Body ?? '').slice(0, 200)}` };
      options.report(`${describe(letter)}: ${outcome.line}`);
      if (options.dryRun) {
        summary.wouldSend += outcome.done ? 1 : 0;
        summary.kept += outcome.done ? 0 : 1;
        await release(message.ReceiptHandle);
      } else if (outcome.done) {
        summary.redriven++;
        await options.sqs.send(
          new DeleteMessageCommand({ QueueUrl: options.queueUrl, ReceiptHandle: message.ReceiptHandle }),
        );
      } else {
        summary.kept++;
        await release(message.ReceiptHandle);
      }
    }
  }
  return summary;
}

async function redriveLetter(
  letter: DeadLetter,
  options: RedriveOptions,
): Promise<{ done: boolean; line: string }> {
  const records = await recordsOf(letter, options.streams);
  if (!records) {
    return {
      done: false,
      line: 'kept: the stream no longer has its records (DynamoDB Streams keeps them 24 hours)',
    };
  }
  if (options.dryRun)
    return {
      done: true,
      line: `would send ${records.length} record${records.length === 1 ? '' : 's'} again`,
    };
  const outcomes: Array<{ sequenceNumber: string; outcome: string; reason?: string }> = [];
  for (let i = 0; i < records.length; i += RECORDS_PER_INVOCATION) {
    const answer = await options.lambda.send(
      new InvokeCommand({
        FunctionName: options.functionName,
        Payload: Buffer.from(
          JSON.stringify({ Records: records.slice(i, i + RECORDS_PER_INVOCATION), redrive: true }),
        ),
      }),
    );
    const payload = answer.Payload ? Buffer.from(answer.Payload).toString('utf8') : '';
    if (answer.FunctionError)
      return { done: false, line: `kept: the function failed: ${payload.slice(0, 300)}` };
    outcomes.push(...((JSON.parse(payload) as RedriveResponse).redrive ?? []));
  }
  const problems = outcomes.filter(
    (outcome) => outcome.outcome !== 'sent' && outcome.outcome !== 'already-delivered',
  );
  if (problems.length > 0) {
    return {
      done: false,
      line: `kept: ${problems.map((problem) => `${problem.sequenceNumber} ${problem.outcome}${problem.reason ? ` (${problem.reason})` : ''}`).join('; ')}`,
    };
  }
  const sent = outcomes.filter((outcome) => outcome.outcome === 'sent').length;
  return {
    done: true,
    line: `sent ${sent} record${sent === 1 ? '' : 's'} again${sent < outcomes.length ? `, ${outcomes.length - sent} had reached every member already` : ''}`,
  };
}

/** The letter's records: its own, or read back from the stream by sequence number; `undefined` when the stream has them no more. */
async function recordsOf(
  letter: DeadLetter,
  streams: DynamoDBStreamsClient,
): Promise<DynamoDBRecord[] | undefined> {
  if (letter.source === 'function' && !letter.imagesOmitted) return [letter.record];
  const range =
    letter.source === 'lambda'
      ? {
          streamArn: letter.streamArn,
          shardId: letter.shardId,
          from: letter.startSequenceNumber,
          to: letter.endSequenceNumber,
        }
      : await locate(streams, letter.record.eventSourceARN ?? '', letter.sequenceNumber);
  if (!range) return undefined;
  try {
    return await readRange(streams, range);
  } catch (error) {
    if (['TrimmedDataAccessException', 'ResourceNotFoundException'].includes((error as Error).name))
      return undefined;
    throw error;
  }
}

interface StreamRange {
  readonly streamArn: string;
  readonly shardId: string;
  readonly from: string;
  readonly to: string;
}

/** The shard of a stream that holds a sequence number (a function letter names the stream, not the shard). */
async function locate(
  streams: DynamoDBStreamsClient,
  streamArn: string,
  sequenceNumber: string,
): Promise<StreamRange | undefined> {
  const target = BigInt(sequenceNumber);
  let exclusiveStartShardId: string | undefined;
  do {
    const { StreamDescription } = await streams.send(
      new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
    );
    for (const shard of StreamDescription?.Shards ?? []) {
      const { StartingSequenceNumber, EndingSequenceNumber } = shard.SequenceNumberRange ?? {};
      if (StartingSequenceNumber === undefined || BigInt(StartingSequenceNumber) > target) continue;
      if (EndingSequenceNumber !== undefined && BigInt(EndingSequenceNumber) < target) continue;
      return { streamArn, shardId: shard.ShardId!, from: sequenceNumber, to: sequenceNumber };
    }
    exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
  } while (exclusiveStartShardId);
  return undefined;
}

/** The records of one shard from `from` to `to`, in the shape Lambda hands them to the function. */
async function readRange(streams: DynamoDBStreamsClient, range: StreamRange): Promise<DynamoDBRecord[]> {
  const last = BigInt(range.to);
  let { ShardIterator: iterator } = await streams.send(
    new GetShardIteratorCommand({
      StreamArn: range.streamArn,
      ShardId: range.shardId,
      ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      SequenceNumber: range.from,
    }),
  );
  const records: StreamRecord[] = [];
  // An open shard answers an empty page past its latest record: the range is complete by then.
  for (let emptyPages = 0; iterator && emptyPages < 3;) {
    const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
    const fresh = page.Records ?? [];
    emptyPages = fresh.length === 0 ? emptyPages + 1 : 0;
    for (const record of fresh) {
      if (BigInt(record.dynamodb?.SequenceNumber ?? '0') > last) return records.map(convert(range));
      records.push(record);
    }
    if (records.length > 0 && BigInt(records.at(-1)!.dynamodb!.SequenceNumber!) >= last) break;
    iterator = page.NextShardIterator;
  }
  return records.map(convert(range));
}

function convert(range: StreamRange) {
  const region = range.streamArn.split(':')[3] ?? '';
  return (record: StreamRecord) => lambdaStreamRecord(record, { region, streamArn: range.streamArn });
}

function describe(letter: DeadLetter | undefined): string {
  if (!letter) return 'unreadable letter';
  if (letter.source === 'lambda') {
    return `records ${letter.startSequenceNumber}..${letter.endSequenceNumber} of ${tableOf(letter.streamArn)} (${letter.condition})`;
  }
  return `${letter.table} record ${letter.sequenceNumber} (${letter.kind}${letter.groups ? ` in ${letter.groups.join(', ')}` : ''})`;
}

function tableOf(streamArn: string): string {
  return streamArn.split('/')[1] ?? streamArn;
}
