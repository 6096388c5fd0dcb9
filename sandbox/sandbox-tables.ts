import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocument } from '@aws-sdk/lib-dynamodb';
import { localClientConfig } from './aws-local';
import type { RunningSandbox } from './running-sandbox';

export type Item = Record<string, unknown>;

export interface KeyAttribute {
  readonly name: string;
  /** DynamoDB's: S, N or B. */
  readonly type: string;
}

export interface Table {
  readonly name: string;
  /** The partition key, then the sort key if there is one. */
  readonly key: readonly KeyAttribute[];
  readonly stream: boolean;
}

/** The items of a running sandbox's tables, as plain JSON values (the document client's). */
export class SandboxTables {
  private readonly client: DynamoDBClient;
  private readonly documents: DynamoDBDocument;

  constructor(readonly sandbox: RunningSandbox) {
    this.client = new DynamoDBClient(localClientConfig(sandbox.dynamodbEndpoint));
    this.documents = DynamoDBDocument.from(this.client);
  }

  /**
   * The tables a user may name, by what to call them: the application's by their labels in
   * rohrpost.config.ts, the membership and history tables by their names.
   */
  names(): Map<string, string> {
    const { membership, history, ...labelled } = this.sandbox.tableNames;
    const names = new Map(Object.entries(labelled));
    for (const name of [membership, history]) if (name) names.set(name, name);
    return names;
  }

  async describe(name: string): Promise<Table> {
    const { Table: description } = await this.client.send(new DescribeTableCommand({ TableName: name }));
    const types = new Map(
      (description?.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a.AttributeType]),
    );
    return {
      name,
      key: (description?.KeySchema ?? []).map(({ AttributeName }) => ({
        name: AttributeName!,
        type: types.get(AttributeName) ?? 'S',
      })),
      stream: description?.StreamSpecification?.StreamEnabled === true,
    };
  }

  async scan(table: Table): Promise<Item[]> {
    const items: Item[] = [];
    let ExclusiveStartKey: Item | undefined;
    do {
      const page = await this.documents.scan({ TableName: table.name, ExclusiveStartKey });
      items.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return items;
  }

  async get(table: Table, key: Item): Promise<Item | undefined> {
    return (await this.documents.get({ TableName: table.name, Key: key, ConsistentRead: true })).Item;
  }

  /** Writes `item`; returns the item it replaced, if there was one. */
  async put(table: Table, item: Item): Promise<Item | undefined> {
    return (await this.documents.put({ TableName: table.name, Item: item, ReturnValues: 'ALL_OLD' }))
      .Attributes;
  }

  /** Deletes the item; returns it, or undefined when there was none. */
  async delete(table: Table, key: Item): Promise<Item | undefined> {
    return (await this.documents.delete({ TableName: table.name, Key: key, ReturnValues: 'ALL_OLD' }))
      .Attributes;
  }

  destroy(): void {
    this.client.destroy();
  }
}
