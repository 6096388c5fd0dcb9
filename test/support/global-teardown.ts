import type { DynamoDbLocal } from '../../sandbox/dynamodb-local';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { rohrpostTestDatabase?: DynamoDbLocal }).rohrpostTestDatabase?.stop();
}
