import type {
  AttributeDefinition,
  CreateTableCommandInput,
  KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import {
  CreateTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import type { AttributeType, KeyAttribute, TableDefinition } from '../lambdas/rohrpost/deploy';
import { localClientConfig } from './aws-local';

export interface TableToCreate {
  readonly tableName: string;
  readonly definition: TableDefinition;
  /** Turn on a stream with new and old images. */
  readonly stream: boolean;
}

const ATTRIBUTE_TYPES: Record<AttributeType, 'S' | 'N' | 'B'> = { string: 'S', number: 'N', binary: 'B' };

/** The CreateTable request for a table definition: on-demand, as the CDK app creates it. */
function createTableInput(table: TableToCreate): CreateTableCommandInput {
  const { definition } = table;
  const attributes = new Map<string, AttributeDefinition>();
  const keySchema = (partitionKey: KeyAttribute, sortKey?: KeyAttribute): KeySchemaElement[] => {
    for (const key of [partitionKey, sortKey]) {
      if (key)
        attributes.set(key.name, { AttributeName: key.name, AttributeType: ATTRIBUTE_TYPES[key.type] });
    }
    const schema: KeySchemaElement[] = [{ AttributeName: partitionKey.name, KeyType: 'HASH' }];
    if (sortKey) schema.push({ AttributeName: sortKey.name, KeyType: 'RANGE' });
    return schema;
  };
  const input: CreateTableCommandInput = {
    TableName: table.tableName,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: keySchema(definition.partitionKey, definition.sortKey),
    ...(definition.indexes?.length && {
      GlobalSecondaryIndexes: definition.indexes.map((index) => ({
        IndexName: index.name,
        KeySchema: keySchema(index.partitionKey, index.sortKey),
        Projection: { ProjectionType: index.projection === 'keys-only' ? 'KEYS_ONLY' : 'ALL' },
      })),
    }),
    ...(table.stream && {
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  };
  input.AttributeDefinitions = [...attributes.values()];
  return input;
}

/** Creates the tables that do not exist yet and turns on their TTL; returns the names of those it created. */
export async function createTables(endpoint: string, tables: readonly TableToCreate[]): Promise<Set<string>> {
  const client = new DynamoDBClient(localClientConfig(endpoint));
  const created = new Set<string>();
  try {
    await Promise.all(
      tables.map(async (table) => {
        try {
          await client.send(new CreateTableCommand(createTableInput(table)));
        } catch (error) {
          if (error instanceof ResourceInUseException) return; // kept from an earlier run
          throw error;
        }
        created.add(table.tableName);
        await waitUntilTableExists({ client, maxWaitTime: 30, minDelay: 1 }, { TableName: table.tableName });
        const ttl = table.definition.timeToLiveAttribute;
        if (ttl) {
          await client.send(
            new UpdateTimeToLiveCommand({
              TableName: table.tableName,
              TimeToLiveSpecification: { AttributeName: ttl, Enabled: true },
            }),
          );
        }
      }),
    );
  } finally {
    client.destroy();
  }
  return created;
}
