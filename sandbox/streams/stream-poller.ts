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
import { lambdaStreamRecord } from '../../lambdas/rohrpost/deploy';
import { localClientConfig, LOCAL_REGION } from '../aws-local';
import type { StreamBatches, StreamReporter } from './stream-batches';

export interface StreamPollerOptions {
  readonly endpoint: string;
  readonly tableName: string;
  /** Where reading starts: `TRIM_HORIZON` for a table created just now (every change it has), else the mapping's. */
  readonly startingPosition: 'LATEST' | 'TRIM_HORIZON';
  /** Records per GetRecords call: the mapping's batch size. */
  readonly batchSize: number;
  /** What is done with each batch: the event source mapping's semantics. */
  readonly batches: (streamArn: string) => StreamBatches;
  /** Pause between polls of a shard that had nothing new. @default 100 */
  readonly pollIntervalMs?: number;
  readonly reporter: Pick<StreamReporter, 'streamFailed'>;
  /** @default a client for `endpoint` */
  readonly client?: DynamoDBStreamsClient;
  /** The table's stream. @default the table's latest stream */
  readonly streamArn?: string;
}

/**
 * Lambda's poller for one table's stream, against DynamoDB Local: each shard is read in order,
 * each page of records handed to the event source mapping's batches, and a closed shard's
 * children are read after it. The records reach the function as Lambda delivers them, except
 * their `ApproximateCreationDateTime`: DynamoDB Local rounds it down to the minute, so the
 * poller gives the time it read them, to the millisecond (AWS gives the second).
 */
export class StreamPoller {
  private readonly client: DynamoDBStreamsClient;
  private readonly loops = new Set<Promise<void>>();
  private stopped = false;
  private streamArn = '';
  private batches: StreamBatches | undefined;
  private readonly wakers = new Set<() => void>();

  private constructor(private readonly options: StreamPollerOptions) {
    this.client = options.client ?? new DynamoDBStreamsClient(localClientConfig(options.endpoint));
  }

  /** Starts reading each open shard at the starting position. */
  static async start(options: StreamPollerOptions): Promise<StreamPoller> {
    const poller = new StreamPoller(options);
    poller.streamArn = options.streamArn ?? (await latestStreamArn(options.endpoint, options.tableName));
    poller.batches = options.batches(poller.streamArn);
    const shards = await poller.openShards();
    const iterators = await Promise.all(
      shards.map((shardId) => poller.iterator(shardId, options.startingPosition)),
    );
    shards.forEach((shardId, i) => poller.run(shardId, iterators[i]!));
    return poller;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const wake of [...this.wakers]) wake();
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
        const readAt = Date.now();
        const records = (page.Records ?? []).map((record) =>
          lambdaStreamRecord(record, { region: LOCAL_REGION, streamArn: this.streamArn, createdAt: readAt }),
        );
        if (records.length > 0) {
          await this.batches!.process(shardId, records);
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
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, milliseconds);
      this.wakers.add(wake);
    });
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
