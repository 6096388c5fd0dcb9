import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { localClientConfig, localSignatureVerifier } from '../../sandbox/aws-local';
import { LocalQueue } from '../../sandbox/sqs/local-queue';
import { SqsApi } from '../../sandbox/sqs/sqs-api';

/**
 * The sandbox's SQS as the unmodified @aws-sdk/client-sqs sees it over loopback HTTP: FIFO sends
 * with their groups and deduplication ids, SQS's errors without them, receives in group order
 * with the attributes asked for, and the redrive policy.
 */
describe("the sandbox's SQS FIFO queues through @aws-sdk/client-sqs", () => {
  let server: Server;
  let sqs: SQSClient;
  let origin: string;
  const api = new SqsApi(localSignatureVerifier('sqs'));
  const queues: LocalQueue[] = [];
  let serial = 0;

  beforeAll(async () => {
    server = createServer((request, response) => {
      if (!api.serve(request, response)) response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    sqs = new SQSClient(localClientConfig(origin));
  });
  afterAll(async () => {
    for (const queue of queues) queue.stop();
    sqs.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  /** A new queue of its own for each test, served at its URL. */
  function queue(
    name: string,
    options: Partial<ConstructorParameters<typeof LocalQueue>[0]> = {},
  ): LocalQueue {
    const unique = name.replace(/(\.fifo)?$/, `-${++serial}$1`);
    const created = new LocalQueue({ name: unique, url: `${origin}/000000000000/${unique}`, ...options });
    api.add(created);
    queues.push(created);
    return created;
  }

  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: Error & { $metadata?: { httpStatusCode?: number } }) => ({
        name: error.name,
        message: error.message,
        status: error.$metadata?.httpStatusCode,
      }),
    );

  test('a send without a group or a deduplication id is refused as SQS refuses it', async () => {
    const lanes = queue('lanes.fifo');
    expect(
      await failure(
        sqs.send(
          new SendMessageCommand({ QueueUrl: lanes.url, MessageBody: 'x', MessageDeduplicationId: 'd' }),
        ),
      ),
    ).toEqual({
      name: 'MissingParameter',
      message: 'The request must contain the parameter MessageGroupId.',
      status: 400,
    });
    expect(
      await failure(
        sqs.send(new SendMessageCommand({ QueueUrl: lanes.url, MessageBody: 'x', MessageGroupId: 'g' })),
      ),
    ).toEqual({
      name: 'InvalidParameterValue',
      message:
        'The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly',
      status: 400,
    });
    // In a batch, one such entry fails the whole request: nothing is stored.
    expect(
      await failure(
        sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: lanes.url,
            Entries: [
              { Id: 'ok', MessageBody: 'x', MessageGroupId: 'g', MessageDeduplicationId: 'd1' },
              { Id: 'no-group', MessageBody: 'y', MessageDeduplicationId: 'd2' },
            ],
          }),
        ),
      ),
    ).toMatchObject({ name: 'MissingParameter', status: 400 });
    expect(lanes.messages).toHaveLength(0);
  });

  test('sends answer with sequence numbers; a duplicate within 5 minutes gets the first message id and is not stored', async () => {
    const lanes = queue('lanes.fifo');
    const first = await sqs.send(
      new SendMessageCommand({
        QueueUrl: lanes.url,
        MessageBody: 'wake lane-1',
        MessageGroupId: 'lane-1',
        MessageDeduplicationId: 'note-1/7/lane-1',
      }),
    );
    expect(first.SequenceNumber).toMatch(/^\d{20}$/);
    const duplicate = await sqs.send(
      new SendMessageCommand({
        QueueUrl: lanes.url,
        MessageBody: 'wake lane-1',
        MessageGroupId: 'lane-1',
        MessageDeduplicationId: 'note-1/7/lane-1',
      }),
    );
    expect(duplicate.MessageId).toBe(first.MessageId);
    const batch = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: lanes.url,
        Entries: [
          {
            Id: 'a',
            MessageBody: 'wake lane-1 again',
            MessageGroupId: 'lane-1',
            MessageDeduplicationId: 'note-1/8/lane-1',
          },
          {
            Id: 'b',
            MessageBody: 'wake lane-2',
            MessageGroupId: 'lane-2',
            MessageDeduplicationId: 'note-1/8/lane-2',
          },
        ],
      }),
    );
    expect(batch.Failed ?? []).toEqual([]);
    const numbers = [first, ...batch.Successful!].map((sent) => BigInt(sent.SequenceNumber!));
    expect(numbers[1]! > numbers[0]! && numbers[2]! > numbers[1]!).toBe(true);
    expect(lanes.messages.map((message) => message.body)).toEqual([
      'wake lane-1',
      'wake lane-1 again',
      'wake lane-2',
    ]);
  });

  test('a receive returns a group in order with the FIFO attributes asked for, and holds the group while it is in flight', async () => {
    const lanes = queue('lanes.fifo');
    const send = (body: string, group: string, id: string) =>
      sqs.send(
        new SendMessageCommand({
          QueueUrl: lanes.url,
          MessageBody: body,
          MessageGroupId: group,
          MessageDeduplicationId: id,
        }),
      );
    const a1 = await send('a1', 'a', '1');
    await send('b1', 'b', '2');
    await send('a2', 'a', '3');

    const { Messages: first = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: lanes.url,
        MaxNumberOfMessages: 2,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    expect(first.map((message) => message.Body)).toEqual(['a1', 'a2']);
    expect(first[0]!.MessageId).toBe(a1.MessageId);
    expect(first[0]!.Attributes).toEqual({
      SenderId: 'local',
      SentTimestamp: expect.stringMatching(/^\d{13}$/) as unknown,
      ApproximateReceiveCount: '1',
      ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d{13}$/) as unknown,
      SequenceNumber: a1.SequenceNumber,
      MessageGroupId: 'a',
      MessageDeduplicationId: '1',
    });

    // Group a is in flight: only b comes, with just the attributes named.
    const { Messages: second = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: lanes.url,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['MessageGroupId', 'SequenceNumber'],
      }),
    );
    expect(second.map((message) => [message.Body, Object.keys(message.Attributes ?? {}).sort()])).toEqual([
      ['b1', ['MessageGroupId', 'SequenceNumber']],
    ]);
    const { Messages: none } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: lanes.url }));
    expect(none).toBeUndefined();

    // Deleting a1 and releasing a2 gives group a to the next receiver, a2 first.
    await sqs.send(new DeleteMessageCommand({ QueueUrl: lanes.url, ReceiptHandle: first[0]!.ReceiptHandle }));
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: lanes.url,
        ReceiptHandle: first[1]!.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    const { Messages: third = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: lanes.url,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    expect(third.map((message) => [message.Body, message.Attributes])).toEqual([
      ['a2', { ApproximateReceiveCount: '2' }],
    ]);
    // Without attribute names, none.
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: lanes.url,
        ReceiptHandle: third[0]!.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    const { Messages: plain = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: lanes.url }));
    expect(plain[0]!.Attributes).toBeUndefined();
  });

  test('a long poll waiting on a held group gets its next message as soon as the one in flight is deleted', async () => {
    const lanes = queue('lanes.fifo');
    for (const [body, id] of [
      ['a1', '1'],
      ['a2', '2'],
    ]) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: lanes.url,
          MessageBody: body,
          MessageGroupId: 'a',
          MessageDeduplicationId: id,
        }),
      );
    }
    const { Messages: [a1] = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: lanes.url }));
    const poll = sqs.send(new ReceiveMessageCommand({ QueueUrl: lanes.url, WaitTimeSeconds: 20 }));
    await sqs.send(new DeleteMessageCommand({ QueueUrl: lanes.url, ReceiptHandle: a1!.ReceiptHandle }));
    const { Messages = [] } = await poll;
    expect(Messages.map((message) => message.Body)).toEqual(['a2']);
  });

  test('a message received maxReceiveCount times moves to the FIFO dead-letter queue, which says where it came from', async () => {
    const deadLetters = queue('lanes-dlq.fifo');
    const lanes = queue('lanes.fifo', { deadLetter: { queue: deadLetters, maxReceiveCount: 1 } });
    const sent = await sqs.send(
      new SendMessageCommand({
        QueueUrl: lanes.url,
        MessageBody: 'poison',
        MessageGroupId: 'a',
        MessageDeduplicationId: 'p',
      }),
    );
    const { Messages: [received] = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: lanes.url, VisibilityTimeout: 0 }),
    );
    expect(received!.Body).toBe('poison');
    const { Messages: again } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: lanes.url }));
    expect(again).toBeUndefined();

    const { Messages: [letter] = [] } = await sqs.send(
      // AttributeNames, the deprecated parameter, names them as well.
      new ReceiveMessageCommand({ QueueUrl: deadLetters.url, AttributeNames: ['All'] }),
    );
    expect(letter).toMatchObject({ MessageId: sent.MessageId, Body: 'poison' });
    expect(letter!.Attributes).toMatchObject({
      MessageGroupId: 'a',
      MessageDeduplicationId: 'p',
      SequenceNumber: sent.SequenceNumber,
      DeadLetterQueueSourceArn: lanes.arn,
    });

    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: lanes.url, AttributeNames: ['All'] }),
    );
    expect(Attributes).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
      FifoQueue: 'true',
      QueueArn: lanes.arn,
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetters.arn, maxReceiveCount: 1 }),
    });
    const counts = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: deadLetters.url,
        AttributeNames: ['ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    expect(counts.Attributes).toEqual({ ApproximateNumberOfMessagesNotVisible: '1' });
  });

  test('a standard queue still takes plain sends, and refuses a deduplication id', async () => {
    const letters = queue('letters');
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl: letters.url, MessageBody: 'plain' }));
    expect(sent.SequenceNumber).toBeUndefined();
    expect(
      await failure(
        sqs.send(
          new SendMessageCommand({ QueueUrl: letters.url, MessageBody: 'x', MessageDeduplicationId: 'd' }),
        ),
      ),
    ).toMatchObject({ name: 'InvalidParameterValue', status: 400 });
  });
});
