import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { HistorySettings } from '../environment';
import { epochSeconds, HistoryKeys, HistoryTable } from './history-table';

/** How many times each stream record has failed, across invocations. */
export interface FailureLedger {
  /** Counts one more failure of each record; resolves with each one's count so far, in order. */
  recordFailures(recordIds: readonly string[]): Promise<number[]>;
}

/**
 * Failures counted in the history table, one item per failing record (its own partition, so
 * that a burst of failures touches no hot key), kept as long as Lambda may retry the record:
 * any instance that gets the record again sees its count.
 */
export class DynamoDbFailureLedger implements FailureLedger {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly settings: Pick<HistorySettings, 'tableName' | 'recordLifetimeSeconds'>,
    private readonly now: () => number = Date.now,
  ) {}

  recordFailures(recordIds: readonly string[]): Promise<number[]> {
    const expiresAt = epochSeconds(this.now) + this.settings.recordLifetimeSeconds;
    return Promise.all(
      recordIds.map(async (recordId) => {
        const { Attributes } = await this.client.send(
          new UpdateCommand({
            TableName: this.settings.tableName,
            Key: {
              [HistoryTable.groupAttribute]: recordId,
              [HistoryTable.keyAttribute]: HistoryKeys.failures,
            },
            UpdateExpression: 'ADD #failures :one SET #expires = :expires',
            ExpressionAttributeNames: { '#failures': 'failures', '#expires': HistoryTable.expiryAttribute },
            ExpressionAttributeValues: { ':one': 1, ':expires': expiresAt },
            ReturnValues: 'UPDATED_NEW',
          }),
        );
        return Number(Attributes?.failures ?? 1);
      }),
    );
  }
}

/** Records whose failures an instance remembers, when groups keep no history table. */
const REMEMBERED_RECORDS = 10_000;

/**
 * Failures counted in the instance's memory, where no table keeps them (history turned off):
 * Lambda usually retries a shard's batch on the same instance, but one that lands on another
 * counts from the start again there.
 */
export class MemoryFailureLedger implements FailureLedger {
  private readonly counts = new Map<string, number>();

  recordFailures(recordIds: readonly string[]): Promise<number[]> {
    return Promise.resolve(
      recordIds.map((recordId) => {
        const count = (this.counts.get(recordId) ?? 0) + 1;
        this.counts.delete(recordId);
        this.counts.set(recordId, count);
        if (this.counts.size > REMEMBERED_RECORDS) this.counts.delete(this.counts.keys().next().value!);
        return count;
      }),
    );
  }
}
