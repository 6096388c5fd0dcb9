import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { JavaMissingError, startDynamoDbLocal } from '../../sandbox/dynamodb-local';
import { eventually } from '../support/recording-reporter';
import { isRunning, processesMatching } from '../support/processes';

describe('DynamoDB Local', () => {
  test('starts from the npm package, answers the real SDK, and stops without leaving Java behind', async () => {
    const database = await startDynamoDbLocal();
    const client = new DynamoDBClient({ endpoint: database.endpoint });
    try {
      expect((await client.send(new ListTablesCommand({}))).TableNames).toEqual(expect.any(Array));
      expect(processesMatching(`DynamoDBLocal.jar.*-port ${database.port}`)).not.toEqual([]);
    } finally {
      client.destroy();
      await database.stop();
    }
    expect(isRunning(database.pid)).toBe(false);
    await eventually(() => processesMatching(`DynamoDBLocal.jar.*-port ${database.port}`).length === 0);
  });

  test('without Java, it says how to install it', async () => {
    const start = startDynamoDbLocal({ java: '/nonexistent/bin/java' });
    await expect(start).rejects.toBeInstanceOf(JavaMissingError);
    await expect(start).rejects.toThrow('sudo apt-get install -y openjdk-17-jre-headless');
  });

  test('a port in use is refused up front', async () => {
    const first = await startDynamoDbLocal();
    try {
      await expect(startDynamoDbLocal({ port: first.port })).rejects.toThrow(
        `DynamoDB Local cannot use port ${first.port}: it is in use.`,
      );
    } finally {
      await first.stop();
    }
  });
});
