import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import { PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { localClientConfig } from '../../sandbox/aws-local';
import { redriveDeadLetters } from '../../tools/redrive/redrive';
import { functionLetters } from '../support/dead-letters';
import { useFixtureSandbox } from '../support/fixture-sandbox';
import { eventually } from '../support/recording-reporter';
import type { TestSocket } from '../support/socket';
import type { Update } from '../support/updates';

/**
 * Nothing is lost, under Lambda's semantics: a record that keeps failing is set aside with its
 * content before Lambda's retries run out, a batch the function cannot answer (it crashes) is
 * given up on by Lambda and known only by its sequence numbers, and `npm run redrive` sends both
 * through the normal path once the cause is gone: every subscriber ends with every message
 * exactly once, in its original id and seq.
 */
describe('npm run redrive against the sandbox', () => {
  const fixture = useFixtureSandbox();
  const clients = () => {
    const config = localClientConfig(new URL(fixture.sandbox.managementEndpoint).origin);
    return {
      sqs: new SQSClient(config),
      lambda: new LambdaClient(config),
      streams: new DynamoDBStreamsClient(localClientConfig(fixture.sandbox.dynamodbEndpoint)),
    };
  };
  const setSwitch = (id: string, on: boolean) =>
    fixture.db.send(new PutCommand({ TableName: fixture.table('switches'), Item: { id, on } }));

  async function subscriber(): Promise<TestSocket> {
    const socket = await fixture.client();
    const reply = await socket.askJson<{ data: { group: string } }>({
      id: 1,
      type: 'subscribe',
      data: 'hooked-all',
    });
    expect(reply.data.group).toBe('hooked-all');
    return socket;
  }

  /** The subscription updates a socket received, by seq; a seq that came twice must have come byte for byte. */
  function updatesBySeq(socket: TestSocket): Map<number, string> {
    const bySeq = new Map<number, string>();
    for (const frame of socket.received) {
      const message = JSON.parse(frame) as Update;
      if (message.type !== 'subscription-update') continue;
      const known = bySeq.get(message.data.seq);
      if (known !== undefined) expect(frame).toBe(known);
      bySeq.set(message.data.seq, frame);
    }
    return bySeq;
  }

  test('a hook that fails for a while and a batch that crashes the function: set aside, then redriven, each message once', async () => {
    await setSwitch('hook-broken', true);
    await setSwitch('function-broken', true);
    const [alice, bob] = [await subscriber(), await subscriber()];
    const items = [
      { id: 'first' },
      { id: 'failing', failWhile: 'hook-broken' },
      ...Array.from({ length: 4 }, (_, i) => ({ id: `behind-${i}` })),
      { id: 'crashing', crashWhile: 'function-broken' },
      { id: 'last' },
    ];
    await fixture.db.send(
      new TransactWriteCommand({
        TransactItems: items.map((Item) => ({ Put: { TableName: fixture.table('hooked'), Item } })),
      }),
    );
    // The failing record, after its retries: set aside by the function, content and all. The
    // crashing one: given up on by Lambda, which sends only where it is in the stream.
    await eventually(
      () =>
        functionLetters(fixture.sandbox).some(
          (letter) => letter.record.dynamodb?.Keys?.id?.S === 'failing',
        ) && fixture.sandbox.deadLetters.some((letter) => letter.source === 'lambda'),
    );
    expect(functionLetters(fixture.sandbox).find((letter) => letter.table === 'hooked')).toMatchObject({
      kind: 'failing',
      attempts: 3,
    });
    const everyOther = items.filter((item) => !('failWhile' in item) && !('crashWhile' in item));
    await eventually(() => [alice, bob].every((socket) => updatesBySeq(socket).size === everyOther.length));

    const { sqs, lambda, streams } = clients();
    const report: string[] = [];
    const queueUrl = fixture.sandbox.queues.get('dead-letters')!.url;
    const options = {
      queueUrl,
      functionName: 'notifications',
      sqs,
      lambda,
      streams,
      report: (line: string) => report.push(line),
    };

    // While the causes remain, a redrive keeps the letters and sends nothing.
    expect(await redriveDeadLetters({ ...options, dryRun: true })).toEqual({
      redriven: 0,
      kept: 0,
      wouldSend: 2,
    });
    expect(await redriveDeadLetters({ ...options, dryRun: false })).toEqual({
      redriven: 0,
      kept: 2,
      wouldSend: 0,
    });
    expect(fixture.sandbox.deadLetters).toHaveLength(2);

    await setSwitch('hook-broken', false);
    await setSwitch('function-broken', false);
    report.length = 0;
    expect(await redriveDeadLetters({ ...options, dryRun: false })).toEqual({
      redriven: 2,
      kept: 0,
      wouldSend: 0,
    });
    expect(report).toHaveLength(2);
    expect(report).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^hooked record \d+ \(failing\): sent 1 record again$/),
        expect.stringMatching(
          /^records (\d+)\.\.\1 of .*hooked \(RetryAttemptsExhausted\): sent 1 record again$/,
        ),
      ]),
    );
    expect(fixture.sandbox.deadLetters).toEqual([]);

    for (const socket of [alice, bob]) {
      await eventually(() => updatesBySeq(socket).size === items.length);
      const bySeq = updatesBySeq(socket);
      expect([...bySeq.keys()].sort((a, b) => a - b)).toEqual(items.map((_, i) => i + 1));
      const ids = [...bySeq.values()].map((frame) => (JSON.parse(frame) as Update).data.object.id);
      expect(ids.sort()).toEqual(items.map((item) => item.id).sort());
    }

    // Run again, nothing is left to send.
    expect(await redriveDeadLetters({ ...options, dryRun: false })).toEqual({
      redriven: 0,
      kept: 0,
      wouldSend: 0,
    });
    for (const client of [sqs, lambda, streams]) client.destroy();
  });
});
