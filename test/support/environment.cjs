const { TestEnvironment } = require('jest-environment-node');
const { DeleteTableCommand, DynamoDBClient, paginateListTables } = require('@aws-sdk/client-dynamodb');

/**
 * Node's test environment, which deletes the tables a test file created (by `uniquePrefix()`)
 * in the run's shared DynamoDB Local once the file is done, hooks and all: DynamoDB Local's TTL
 * sweeps take longer with every table that has a TTL, and tests wait for them.
 */
class CleaningEnvironment extends TestEnvironment {
  async teardown() {
    const prefixes = this.global.rohrpostTablePrefixes ?? [];
    const endpoint = process.env.ROHRPOST_TEST_DYNAMODB_ENDPOINT;
    if (prefixes.length > 0 && endpoint) {
      const client = new DynamoDBClient({
        endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      try {
        const names = [];
        for await (const page of paginateListTables({ client }, {})) names.push(...(page.TableNames ?? []));
        const mine = names.filter((name) => prefixes.some((prefix) => name.startsWith(prefix)));
        await Promise.all(
          mine.map((TableName) => client.send(new DeleteTableCommand({ TableName })).catch(() => undefined)),
        );
      } finally {
        client.destroy();
      }
    }
    await super.teardown();
  }
}

module.exports = CleaningEnvironment;
