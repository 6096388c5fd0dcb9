import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createTables } from '../../sandbox/tables';
import { membershipTableDefinition } from '../../lambdas/rohrpost/storage/membership-table';
/** The DynamoDB Local that jest's global setup started for this run. */
export function testDynamoDbEndpoint(): string {
  const endpoint = process.env.ROHRPOST_TEST_DYNAMODB_ENDPOINT;
  if (!endpoint) throw new Error('DynamoDB Local is not running: run the tests with jest (npm test).');
  return endpoint;
}

/**
 * A table-name prefix no other test uses. The test environment (environment.cjs) deletes the
 * tables with it once the test file is done.
 */
export function uniquePrefix(): string {
  const prefix = `t${randomBytes(4).toString('hex')}-`;
  const registry = globalThis as { rohrpostTablePrefixes?: string[] };
  (registry.rohrpostTablePrefixes ??= []).push(prefix);
  return prefix;
}

/** A document client for the test database that records the name of every command it sends. */
export function countingDocumentClient(): { client: DynamoDBDocumentClient; commands: string[] } {
  const commands: string[] = [];
  const base = new DynamoDBClient({ endpoint: testDynamoDbEndpoint() });
  base.middlewareStack.add(
    (next, context) => (args) => {
      commands.push(context.commandName ?? 'unknown');
      return next(args);
    },
    { step: 'finalizeRequest', name: 'countCommands' },
  );
  return { client: DynamoDBDocumentClient.from(base), commands };
}

/** A fresh membership table in the test database. */
export async function createMembershipTable(): Promise<string> {
  const tableName = `${uniquePrefix()}membership`;
  await createTables(testDynamoDbEndpoint(), [
    { tableName, definition: membershipTableDefinition, stream: false },
  ]);
  return tableName;
}
