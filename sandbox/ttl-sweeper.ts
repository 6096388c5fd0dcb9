import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { TableDefinition } from '../lambdas/config';
import { localClientConfig } from './aws-local';

export interface TtlTable {
  readonly tableName: string;
  readonly definition: TableDefinition;
}

/**
 * DynamoDB's TTL for DynamoDB Local, which accepts TTL settings but never expires anything:
 * every `intervalMs`, the items whose TTL attribute lies in the past are deleted. (A table
 * scan is fine here: this stands in for DynamoDB's own background process.)
 */
export class TtlSweeper {
  private readonly client: DynamoDBDocumentClient;
  private readonly timer: NodeJS.Timeout;
  private sweeping: Promise<number> | undefined;

  constructor(
    endpoint: string,
    private readonly tables: readonly TtlTable[],
    intervalMs: number,
    private readonly onError: (message: string) => void,
  ) {
    this.client = DynamoDBDocumentClient.from(new DynamoDBClient(localClientConfig(endpoint)));
    this.timer = setInterval(
      () => void this.sweep().catch((error: Error) => this.onError(`TTL sweep failed: ${error.message}`)),
      intervalMs,
    );
    this.timer.unref();
  }

  /** Deletes what has expired by `nowSeconds` (default: now); returns how many items. */
  sweep(nowSeconds = Math.floor(Date.now() / 1000)): Promise<number> {
    const run = (this.sweeping ?? Promise.resolve(0)).then(async () => {
      let deleted = 0;
      for (const table of this.tables) deleted += await this.sweepTable(table, nowSeconds);
      return deleted;
    });
    this.sweeping = run.catch(() => 0);
    return run;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
    this.client.destroy();
  }

  private async sweepTable({ tableName, definition }: TtlTable, nowSeconds: number): Promise<number> {
    const attribute = definition.timeToLiveAttribute;
    if (!attribute) return 0;
    const keyNames = [definition.partitionKey.name, ...(definition.sortKey ? [definition.sortKey.name] : [])];
    let deleted = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({
          TableName: tableName,
          FilterExpression: '#ttl < :now',
          ProjectionExpression: keyNames.map((_, i) => `#key${i}`).join(', '),
          ExpressionAttributeNames: {
            '#ttl': attribute,
            ...Object.fromEntries(keyNames.map((name, i) => [`#key${i}`, name])),
          },
          ExpressionAttributeValues: { ':now': nowSeconds },
          ExclusiveStartKey: startKey,
        }),
      );
      const keys = page.Items ?? [];
      for (let i = 0; i < keys.length; i += 25) {
        let requests = keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
        while (requests.length > 0) {
          const result = await this.client.send(
            new BatchWriteCommand({ RequestItems: { [tableName]: requests } }),
          );
          requests = (result.UnprocessedItems?.[tableName] ?? []) as typeof requests;
        }
      }
      deleted += keys.length;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return deleted;
  }
}
