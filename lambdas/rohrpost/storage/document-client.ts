import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocument } from '@aws-sdk/lib-dynamodb';

/** A DynamoDB document client with a method per operation; `undefined` attributes are left out. */
export function createDocumentClient(): DynamoDBDocument {
  return DynamoDBDocument.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
}
