import { AttributeType, ProjectionType } from 'aws-cdk-lib/aws-dynamodb';
import type { Attribute, GlobalSecondaryIndexProps, TableProps } from 'aws-cdk-lib/aws-dynamodb';
import type {
  AttributeType as ConfigAttributeType,
  KeyAttribute,
  TableDefinition,
} from '../lambdas/rohrpost/deploy';

const ATTRIBUTE_TYPES: Record<ConfigAttributeType, AttributeType> = {
  string: AttributeType.STRING,
  number: AttributeType.NUMBER,
  binary: AttributeType.BINARY,
};

const attribute = (key: KeyAttribute): Attribute => ({ name: key.name, type: ATTRIBUTE_TYPES[key.type] });

/** The key schema and TTL of a table definition, as the sandbox creates it too (sandbox/tables.ts). */
export function tableShape(
  definition: TableDefinition,
): Pick<TableProps, 'partitionKey' | 'sortKey' | 'timeToLiveAttribute'> {
  return {
    partitionKey: attribute(definition.partitionKey),
    ...(definition.sortKey && { sortKey: attribute(definition.sortKey) }),
    ...(definition.timeToLiveAttribute && { timeToLiveAttribute: definition.timeToLiveAttribute }),
  };
}

/** The definition's global secondary indexes. */
export function indexProps(definition: TableDefinition): GlobalSecondaryIndexProps[] {
  return (definition.indexes ?? []).map((index) => ({
    indexName: index.name,
    partitionKey: attribute(index.partitionKey),
    ...(index.sortKey && { sortKey: attribute(index.sortKey) }),
    projectionType: index.projection === 'keys-only' ? ProjectionType.KEYS_ONLY : ProjectionType.ALL,
  }));
}
