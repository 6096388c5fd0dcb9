import { randomUUID } from 'node:crypto';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { PlannedStreamSource } from '../../lambdas/rohrpost/deploy';
import type { Invokable } from '../gateway';
import { FunctionError } from '../lambda/function-error';

/** What a stream's event source mapping tells the sandbox's log. */
export interface StreamReporter {
  streamDelivered(table: string, records: number, milliseconds: number): void;
  streamRetrying(table: string, sequenceNumber: string, attempt: number, reason: string): void;
  streamFailed(table: string, message: string): void;
}

export type StreamSettings = Pick<
  PlannedStreamSource,
  | 'batchSize'
  | 'bisectBatchOnFunctionError'
  | 'reportBatchItemFailures'
  | 'maximumRetryAttempts'
  | 'maximumRecordAgeSeconds'
>;

export interface StreamBatchesOptions {
  /** The table's name, for the log. */
  readonly table: string;
  readonly streamArn: string;
  /** The function's ARN, for the on-failure record. */
  readonly functionArn: string;
  readonly function: Invokable;
  readonly settings: StreamSettings;
  /** Sends Lambda's on-failure record (JSON) to the mapping's destination. */
  readonly onFailure: (body: string) => void;
  readonly reporter: StreamReporter;
  /** Whether the sandbox is stopping: no more invocations then. */
  readonly stopped: () => boolean;
  /** The pause before retry `n` (from 1). @default 100 ms doubling, at most 2 s */
  readonly retryDelayMs?: (retry: number) => number;
  /** The pause before an invocation that was throttled is tried again. @default 100 ms */
  readonly throttleDelayMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/** Part of a batch still to be processed: all of it at first, a half after a split, the rest after a partial failure. */
interface Piece {
  records: DynamoDBRecord[];
  /** Retries of these records so far: splitting does not count, a retry does. */
  retries: number;
  invocations: number;
}

type Outcome =
  | { readonly kind: 'success' }
  /** The function reported failed records: retry from the lowest, with the rest of the batch. */
  | { readonly kind: 'partial'; readonly from: number; readonly reason: string }
  /** The invocation failed: it threw, crashed or timed out. */
  | { readonly kind: 'error'; readonly reason: string };

/**
 * How Lambda's event source mapping hands one shard's batch to a function, with the stack's
 * settings:
 *
 * - a `batchItemFailures` response makes Lambda retry from the failed record with the lowest
 *   sequence number, with every record after it; an identifier that names no record of the
 *   batch fails the whole batch
 *   (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html);
 * - a function error (it threw, crashed, timed out) with `BisectBatchOnFunctionError` splits the
 *   batch in two, each half retried on its own, and "splitting batches doesn't consume the retry
 *   quota"; a throttled invocation is tried again until the records are too old
 *   (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html);
 * - after `MaximumRetryAttempts` retries, and for records older than `MaximumRecordAgeInSeconds`,
 *   Lambda gives up on the records, sends its on-failure record (metadata only: the shard, the
 *   first and last sequence numbers, the stream) to the destination, and goes on after them.
 *
 * AWS does not document whether progress (a retry that gets some records through) restarts the
 * count of retries; the sandbox keeps counting, the stricter reading, so that code which
 * survives it survives either.
 */
export class StreamBatches {
  private readonly now: () => number;

  constructor(private readonly options: StreamBatchesOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Hands `records` (one shard's, in order) to the function until each is processed or given up on. */
  async process(shardId: string, records: DynamoDBRecord[]): Promise<void> {
    const { settings, reporter, table } = this.options;
    const pieces: Piece[] = [{ records, retries: 0, invocations: 0 }];
    while (pieces.length > 0 && !this.options.stopped()) {
      const piece = pieces[0]!;
      this.dropExpired(shardId, piece);
      if (piece.records.length === 0) {
        pieces.shift();
        continue;
      }
      const started = this.now();
      let outcome: Outcome;
      try {
        const response = await this.options.function.invoke({
          Records: piece.records,
        } satisfies DynamoDBStreamEvent);
        piece.invocations++;
        outcome = this.judge(response as DynamoDBBatchResponse | null | undefined, piece.records);
      } catch (error) {
        if (error instanceof FunctionError && error.reason === 'stopped') return;
        if (error instanceof FunctionError && error.reason === 'throttled') {
          // Not an invocation: no retry is used up, but the records age.
          await sleep(this.options.throttleDelayMs ?? 100);
          continue;
        }
        piece.invocations++;
        outcome = { kind: 'error', reason: (error as Error).message };
      }
      if (outcome.kind === 'success') {
        reporter.streamDelivered(table, piece.records.length, this.now() - started);
        pieces.shift();
        continue;
      }
      if (outcome.kind === 'error' && settings.bisectBatchOnFunctionError && piece.records.length > 1) {
        const half = Math.ceil(piece.records.length / 2);
        pieces.splice(
          0,
          1,
          { records: piece.records.slice(0, half), retries: piece.retries, invocations: 0 },
          { records: piece.records.slice(half), retries: piece.retries, invocations: 0 },
        );
        continue;
      }
      if (outcome.kind === 'partial' && outcome.from > 0) {
        reporter.streamDelivered(table, outcome.from, this.now() - started);
        piece.records = piece.records.slice(outcome.from);
      }
      piece.retries++;
      const limit = settings.maximumRetryAttempts < 0 ? Infinity : settings.maximumRetryAttempts;
      if (piece.retries > limit) {
        this.giveUp(shardId, piece, 'RetryAttemptsExhausted', outcome.kind === 'error');
        pieces.shift();
        continue;
      }
      reporter.streamRetrying(table, sequenceNumber(piece.records[0]!), piece.retries, outcome.reason);
      await sleep((this.options.retryDelayMs ?? defaultRetryDelay)(piece.retries));
    }
  }

  /** What Lambda makes of a function's response (the partial batch response contract). */
  private judge(
    response: DynamoDBBatchResponse | null | undefined,
    records: readonly DynamoDBRecord[],
  ): Outcome {
    if (!this.options.settings.reportBatchItemFailures) return { kind: 'success' };
    const failures = response?.batchItemFailures ?? [];
    if (failures.length === 0) return { kind: 'success' };
    const positions = failures.map((failure) =>
      typeof failure?.itemIdentifier === 'string' && failure.itemIdentifier !== ''
        ? records.findIndex((record) => sequenceNumber(record) === failure.itemIdentifier)
        : -1,
    );
    if (positions.includes(-1)) {
      return {
        kind: 'partial',
        from: 0,
        reason: 'a batch item failure names no record of the batch: the whole batch failed',
      };
    }
    return { kind: 'partial', from: Math.min(...positions), reason: 'reported as a batch item failure' };
  }

  /** Records older than the maximum age are given up on before they are handed to the function. */
  private dropExpired(shardId: string, piece: Piece): void {
    const limit = this.options.settings.maximumRecordAgeSeconds;
    if (limit < 0) return;
    const oldest = this.now() - limit * 1000;
    const expired = piece.records.findIndex((record) => createdAt(record) >= oldest);
    const count = expired === -1 ? piece.records.length : expired;
    if (count === 0) return;
    this.giveUp(shardId, { ...piece, records: piece.records.slice(0, count) }, 'RecordAgeExceeded', false);
    piece.records = piece.records.slice(count);
  }

  /** Sends Lambda's on-failure record for the piece's records and leaves them behind. */
  private giveUp(shardId: string, piece: Piece, condition: string, functionError: boolean): void {
    const first = piece.records[0]!;
    const last = piece.records.at(-1)!;
    const arrival = (record: DynamoDBRecord) =>
      new Date(Math.floor(createdAt(record) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    this.options.onFailure(
      JSON.stringify({
        requestContext: {
          requestId: randomUUID(),
          functionArn: this.options.functionArn,
          condition,
          approximateInvokeCount: piece.invocations,
        },
        ...(piece.invocations > 0 && {
          responseContext: {
            statusCode: 200,
            executedVersion: '$LATEST',
            ...(functionError && { functionError: 'Unhandled' }),
          },
        }),
        version: '1.0',
        timestamp: new Date(this.now()).toISOString(),
        DDBStreamBatchInfo: {
          shardId,
          startSequenceNumber: sequenceNumber(first),
          endSequenceNumber: sequenceNumber(last),
          approximateArrivalOfFirstRecord: arrival(first),
          approximateArrivalOfLastRecord: arrival(last),
          batchSize: piece.records.length,
          streamArn: this.options.streamArn,
        },
      }),
    );
  }
}

function sequenceNumber(record: DynamoDBRecord): string {
  return record.dynamodb?.SequenceNumber ?? '';
}

/** When the record's change happened, epoch milliseconds. */
function createdAt(record: DynamoDBRecord): number {
  return (record.dynamodb?.ApproximateCreationDateTime ?? 0) * 1000;
}

function defaultRetryDelay(retry: number): number {
  return Math.min(100 * 2 ** (retry - 1), 2_000);
}

function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}
