import { randomBytes } from 'node:crypto';

/** The DynamoDB Local that jest's global setup started for this run. */
export function testDynamoDbEndpoint(): string {
  const endpoint = process.env.ROHRPOST_TEST_DYNAMODB_ENDPOINT;
  if (!endpoint) throw new Error('DynamoDB Local is not running: run the tests with jest (npm test).');
  return endpoint;
}

/** A table-name prefix no other test uses. */
export function uniquePrefix(): string {
  return `t${randomBytes(4).toString('hex')}-`;
}
