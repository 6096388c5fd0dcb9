import type {
  AttributeValue as SdkAttributeValue,
  _Record as SdkRecord,
} from '@aws-sdk/client-dynamodb-streams';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AttributeValue, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { localClientConfig, LOCAL_REGION } from './aws-local';
import { FunctionError } from './local-function';
import type { DeadLetter } from './dead-letter-queue';
import type { Invokable } from './gateway';

/** What the stream pollers tell the sandbox's log. */
export interface StreamReporter {
  streamDelivered(table: string, records: number, milliseconds: number): void;
  streamRetrying(table: string, sequenceNumber: string, attempt: number, reason: string): void;
  deadLettered(letter: DeadLetter): void;
  streamFailed(table: string, message: string): void;
}

export interface StreamPollerOptions {
  readonly endpoint: string;
  readonly tableName: string;
  /** The notification function. */
  readonly function: Invokable;
  /** Records per invocation at most. */
  readonly batchSize: number;
  /** Retries of a failing record before it is dead-lettered. */
  readonly retryAttempts: number;
  /** Pause between polls of a shard that had nothing new. @default 100 */
  readonly pollIntervalMs?: number;
  readonly reporter: StreamReporter;
  /** @default a client for `endpoint` */
  readonly client?: DynamoDBStreamsClient;
  /** The table's stream. @default the table's latest stream */
  readonly streamArn?: string;
}

/**
 * Lambda's event source mapping for one table's stream, against DynamoDB Local: each shard is
 * read in order and its records are handed to the function in batches. The function's
 * `batchItemFailures` are honoured: processing resumes at the first failed record, which is
 * retried with those after it; after `retryAttempts` it is dead-lettered on its own (as
 * bisect-on-error isolates it on AWS) and the rest continue. A function error splits the
 * batch in halves, like bisect-on-error.
 */
export class StreamPoller {
  readonly deadLetters: DeadLetter[] = [];
  private readonly client: DynamoDBStreamsClient;
  private readonly loops = new Set<Promise<void>>();
  private stopped = false;
  private streamArn = '';
  private wake: (() => void) | undefined;

  private constructor(private readonly options: StreamPollerOptions) {
    this.client = options.client ?? new DynamoDBStreamsClient(localClientConfig(options.endpoint));
  }

  /** Starts reading at the stream's end: what is written from now on is delivered. */
  static async start(options: StreamPollerOptions): Promise<StreamPoller> {
    const poller = new StreamPoller(options);
    poller.streamArn = options.streamArn ?? (await latestStreamArn(options.endpoint, options.tableName));
    const shards = await poller.openShards();
    const iterators = await Promise.all(shards.map((shardId) => poller.iterator(shardId, 'LATEST')));
    shards.forEach((shardId, i) => poller.run(shardId, iterators[i]!));
    return poller;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await Promise.all([...this.loops]);
    if (!this.options.client) this.client.destroy();
  }

  private run(shardId: string, iterator: string): void {
    const loop = this.poll(shardId, iterator)
      .catch((error: unknown) =>
        this.options.reporter.streamFailed(
          this.options.tableName,
          `stopped reading shard ${shardId}: ${(error as Error).message}`,
        ),
      )
      .finally(() => this.loops.delete(loop));
    this.loops.add(loop);
  }

  private async poll(shardId: string, firstIterator: string): Promise<void> {
    let iterator: string | undefined = firstIterator;
    let lastSequenceNumber: string | undefined;
    while (!this.stopped && iterator) {
      try {
        const page: GetRecordsCommandOutput = await this.client.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: this.options.batchSize }),
        );
        const records = (page.Records ?? []).map((record) => this.toLambdaRecord(record));
        if (records.length > 0) {
          await this.deliver(shardId, records);
          lastSequenceNumber = records.at(-1)!.dynamodb!.SequenceNumber;
        } else {
          await this.pause(this.options.pollIntervalMs ?? 100);
        }
        iterator = page.NextShardIterator;
      } catch (error) {
        if (this.stopped) return;
        if (error instanceof TrimmedDataAccessException || error instanceof ExpiredIteratorException) {
          // An expired iterator, or DynamoDB Local's stale one on a stream that started empty:
          // start again right after the last record delivered.
          try {
            iterator = lastSequenceNumber
              ? await this.iterator(shardId, 'AFTER_SEQUENCE_NUMBER', lastSequenceNumber)
              : await this.iterator(shardId, 'TRIM_HORIZON');
          } catch (renewError) {
            const message = `renewing the shard iterator failed: ${(renewError as Error).message}`;
            this.options.reporter.streamFailed(this.options.tableName, message);
            await this.pause(1_000);
          }
          continue;
        }
        this.options.reporter.streamFailed(
          this.options.tableName,
          `reading the stream failed: ${(error as Error).message}`,
        );
        await this.pause(1_000);
      }
    }
    if (!this.stopped && !iterator) {
      // The shard is closed: its children carry on from where it ended.
      for (const child of await this.openShards(shardId))
        this.run(child, await this.iterator(child, 'TRIM_HORIZON'));
    }
  }

  /** Hands records to the function until each is processed or dead-lettered. */
  private async deliver(shardId: string, records: DynamoDBRecord[]): Promise<void> {
    let pending = records;
    let attempts = 0;
    while (pending.length > 0 && !this.stopped) {
      const started = Date.now();
      let failedAt: number;
      let reason: string;
      try {
        const response = (await this.options.function.invoke({
          Records: pending,
        } satisfies DynamoDBStreamEvent)) as DynamoDBBatchResponse | undefined;
        failedAt = firstFailure(response, pending);
        reason = 'reported as a batch item failure';
      } catch (error) {
        if (error instanceof FunctionError && error.reason === 'throttled') {
          // Lambda retries a throttled batch until it runs; a throttle is no failed attempt.
          await this.pause(100);
          continue;
        }
        if (pending.length > 1) {
          const half = Math.ceil(pending.length / 2);
          await this.deliver(shardId, pending.slice(0, half));
          await this.deliver(shardId, pending.slice(half));
          return;
        }
        failedAt = 0;
        reason = (error as Error).message;
      }
      if (failedAt === -1) {
        this.options.reporter.streamDelivered(this.options.tableName, pending.length, Date.now() - started);
        return;
      }
      if (failedAt > 0) {
        // Records got through: the first one still failing starts its own count of retries.
        this.options.reporter.streamDelivered(this.options.tableName, failedAt, Date.now() - started);
        attempts = 0;
      }
      pending = pending.slice(failedAt);
      const sequenceNumber = pending[0]!.dynamodb!.SequenceNumber!;
      if (++attempts > this.options.retryAttempts) {
        const letter: DeadLetter = {
          table: this.options.tableName,
          shardId,
          sequenceNumber,
          reason,
          record: pending[0]!,
          origin: 'failed-every-retry',
        };
        this.deadLetters.push(letter);
        this.options.reporter.deadLettered(letter);
        pending = pending.slice(1);
        attempts = 0;
        continue;
      }
      this.options.reporter.streamRetrying(this.options.tableName, sequenceNumber, attempts, reason);
      await new Promise((resolve) => setTimeout(resolve, 50 * attempts));
    }
  }

  private async openShards(parentShardId?: string): Promise<string[]> {
    const shards = [];
    let exclusiveStartShardId: string | undefined;
    do {
      const { StreamDescription } = await this.client.send(
        new DescribeStreamCommand({
          StreamArn: this.streamArn,
          ExclusiveStartShardId: exclusiveStartShardId,
        }),
      );
      shards.push(...(StreamDescription?.Shards ?? []));
      exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
    return shards
      .filter((shard) =>
        parentShardId === undefined
          ? shard.SequenceNumberRange?.EndingSequenceNumber === undefined
          : shard.ParentShardId === parentShardId,
      )
      .map((shard) => shard.ShardId!);
  }

  private async iterator(
    shardId: string,
    type: 'LATEST' | 'TRIM_HORIZON' | 'AFTER_SEQUENCE_NUMBER',
    sequenceNumber?: string,
  ): Promise<string> {
    const { ShardIterator } = await this.client.send(
      new GetShardIteratorCommand({
        StreamArn: this.streamArn,
        ShardId: shardId,
        ShardIteratorType: type,
        SequenceNumber: sequenceNumber,
      }),
    );
    return ShardIterator!;
  }

  private pause(milliseconds: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, milliseconds);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** The record as Lambda delivers it: JSON, with binary as base64 and times in epoch seconds. */
  private toLambdaRecord(record: SdkRecord): DynamoDBRecord {
    const stream = record.dynamodb ?? {};
    const image = (values: Record<string, SdkAttributeValue> | undefined) =>
      values &&
      Object.fromEntries(Object.entries(values).map(([name, value]) => [name, toLambdaValue(value)]));
    // DynamoDB Local reports a TTL deletion under an event name of its own; Lambda gets a
    // REMOVE by the DynamoDB service.
    const expired =
      !['INSERT', 'MODIFY', 'REMOVE'].includes(record.eventName ?? '') &&
      !stream.NewImage &&
      !!stream.OldImage;
    return {
      eventID: record.eventID,
      eventName: expired ? 'REMOVE' : record.eventName,
      eventVersion: record.eventVersion,
      eventSource: 'aws:dynamodb',
      awsRegion: LOCAL_REGION,
      dynamodb: {
        ApproximateCreationDateTime: Math.floor(
          (stream.ApproximateCreationDateTime ?? new Date()).getTime() / 1000,
        ),
        Keys: image(stream.Keys),
        ...(stream.NewImage && { NewImage: image(stream.NewImage) }),
        ...(stream.OldImage && { OldImage: image(stream.OldImage) }),
        SequenceNumber: stream.SequenceNumber,
        SizeBytes: stream.SizeBytes,
        StreamViewType: stream.StreamViewType,
      },
      eventSourceARN: this.streamArn,
      ...(expired && { userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' } }),
      ...(record.userIdentity && {
        userIdentity: { type: record.userIdentity.Type, principalId: record.userIdentity.PrincipalId },
      }),
    };
  }
}

async function latestStreamArn(endpoint: string, tableName: string): Promise<string> {
  const tables = new DynamoDBClient(localClientConfig(endpoint));
  try {
    const { Table } = await tables.send(new DescribeTableCommand({ TableName: tableName }));
    if (!Table?.LatestStreamArn) throw new Error(`Table ${tableName} has no stream.`);
    return Table.LatestStreamArn;
  } finally {
    tables.destroy();
  }
}

/** The index of the first record the response reports as failed: -1 for none, 0 for an invalid response. */
function firstFailure(
  response: DynamoDBBatchResponse | undefined,
  records: readonly DynamoDBRecord[],
): number {
  const failures = response?.batchItemFailures ?? [];
  if (failures.length === 0) return -1;
  const positions = failures.map((failure) =>
    records.findIndex((record) => record.dynamodb?.SequenceNumber === failure.itemIdentifier),
  );
  // Like Lambda: an identifier that names no record of the batch fails the whole batch.
  return positions.includes(-1) ? 0 : Math.min(...positions);
}

function toLambdaValue(value: SdkAttributeValue): AttributeValue {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BS !== undefined) return { BS: value.BS.map((bytes) => Buffer.from(bytes).toString('base64')) };
  if (value.L !== undefined) return { L: value.L.map(toLambdaValue) };
  if (value.M !== undefined) {
    return {
      M: Object.fromEntries(Object.entries(value.M).map(([name, inner]) => [name, toLambdaValue(inner)])),
    };
  }
  return value as AttributeValue;
}
