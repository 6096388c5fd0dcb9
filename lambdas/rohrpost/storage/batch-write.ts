import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';

type WriteRequest =
  | { readonly PutRequest: { readonly Item: Record<string, unknown> } }
  | { readonly DeleteRequest: { readonly Key: Record<string, unknown> } };

const BATCH_WRITE_LIMIT = 25;
const UNPROCESSED_RETRIES = 8;

/**
 * Writes any number of puts and deletes to one table, 25 per BatchWriteItem, retrying what
 * DynamoDB leaves unprocessed with a growing, jittered pause.
 */
export async function batchWrite(
  client: DynamoDBDocumentClient,
  tableName: string,
  requests: readonly WriteRequest[],
): Promise<void> {
  for (let i = 0; i < requests.length; i += BATCH_WRITE_LIMIT) {
    let batch = requests.slice(i, i + BATCH_WRITE_LIMIT);
    for (let attempt = 0; batch.length > 0; attempt++) {
      if (attempt > UNPROCESSED_RETRIES) {
        throw new Error(
          `${batch.length} writes to ${tableName} were still unprocessed after ${UNPROCESSED_RETRIES} retries.`,
        );
      }
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * 2 ** attempt));
      const result = await client.send(new BatchWriteCommand({ RequestItems: { [tableName]: batch } }));
      batch = (result.UnprocessedItems?.[tableName] ?? []) as WriteRequest[];
    }
  }
}
