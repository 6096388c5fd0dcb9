import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { paginateQuery } from '@aws-sdk/lib-dynamodb';
import { HistoryTable } from './history-table';

/**
 * The items of a group's partition of the history table whose key meets `keyCondition` (on
 * `#key`, with its `values`), in key order, read strongly consistently a Query page at a time.
 */
export async function* historyItems(
  client: DynamoDBDocumentClient,
  tableName: string,
  group: string,
  keyCondition: string,
  values: Record<string, unknown>,
): AsyncIterable<Record<string, unknown>> {
  const pages = paginateQuery(
    { client },
    {
      TableName: tableName,
      KeyConditionExpression: `#group = :group AND ${keyCondition}`,
      ExpressionAttributeNames: { '#group': HistoryTable.groupAttribute, '#key': HistoryTable.keyAttribute },
      ExpressionAttributeValues: { ':group': group, ...values },
      ConsistentRead: true,
    },
  );
  for await (const page of pages) yield* page.Items ?? [];
}
