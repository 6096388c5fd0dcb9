import { DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import config from '../../rohrpost.config';
import { startSandbox } from '../../sandbox/sandbox';
import { testDynamoDbEndpoint, uniquePrefix } from '../support/dynamodb';
import { eventually } from '../support/recording-reporter';

/** A sandbox that is still starting already owes its tables' changes to their subscribers. */
describe('a sandbox that is starting', () => {
  const client = new DynamoDBClient({ endpoint: testDynamoDbEndpoint() });
  const db = DynamoDBDocumentClient.from(client);
  afterAll(() => db.destroy());

  const tableExists = async (name: string) => {
    try {
      await client.send(new DescribeTableCommand({ TableName: name }));
      return true;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return false;
      throw error;
    }
  };

  test('notifies every change written since it created the table, even before it was ready', async () => {
    const prefix = uniquePrefix();
    const starting = startSandbox({
      config,
      port: 0,
      dynamodb: { endpoint: testDynamoDbEndpoint() },
      tablePrefix: prefix,
    });
    let ready = false;
    void starting.then(() => (ready = true));
    await eventually(() => tableExists(`${prefix}notes`));

    // Every 20 ms from the moment the table exists until the sandbox is ready, and a few after.
    let written = 0;
    let writtenBeforeReady = 0;
    for (let afterReady = 0; afterReady < 5; afterReady += ready ? 1 : 0) {
      await db.send(
        new PutCommand({ TableName: `${prefix}notes`, Item: { id: `n${written}`, title: 'early' } }),
      );
      written++;
      if (!ready) writtenBeforeReady = written;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const sandbox = await starting;
    try {
      expect(writtenBeforeReady).toBeGreaterThan(0);
      // Each note's change takes the next seq of notes-all: every write was notified.
      const top = async () =>
        (
          await db.send(
            new GetCommand({
              TableName: sandbox.historyTable,
              Key: { group: 'notes-all', key: '#head' },
              ConsistentRead: true,
            }),
          )
        ).Item?.top as number | undefined;
      await eventually(async () => (await top()) === written);
    } finally {
      await sandbox.stop();
    }
  });
});
