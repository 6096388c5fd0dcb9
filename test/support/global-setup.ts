import { startDynamoDbLocal } from '../../sandbox/dynamodb-local';

/**
 * One DynamoDB Local for the whole run: tests share it, each with its own table names.
 * Its endpoint reaches the test workers through the environment.
 */
export default async function globalSetup(): Promise<void> {
  const database = await startDynamoDbLocal();
  process.env.ROHRPOST_TEST_DYNAMODB_ENDPOINT = database.endpoint;
  (globalThis as { rohrpostTestDatabase?: typeof database }).rohrpostTestDatabase = database;
}
