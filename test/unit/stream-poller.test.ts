import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { ExpiredIteratorException, TrimmedDataAccessException } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { StreamPoller } from '../../sandbox/stream-poller';
import { eventually, recordingReporter } from '../support/recording-reporter';

/**
 * The sandbox's event source mapping on its error paths, with a scripted stream: the real one
 * (DynamoDB Local) is exercised by the notification integration tests.
 */
const STREAM = 'arn:aws:dynamodb:us-east-1:000000000000:table/items/stream/now';

function sdkRecord(sequenceNumber: number, id = `item-${sequenceNumber}`) {
  return {
    eventID: `e${sequenceNumber}`,
    eventName: 'INSERT',
    eventVersion: '1.1',
    dynamodb: {
      ApproximateCreationDateTime: new Date(1_700_000_000_000),
      Keys: { id: { S: id } },
      NewImage: { id: { S: id }, bytes: { B: new Uint8Array([1, 2, 3]) } },
      SequenceNumber: String(sequenceNumber),
      SizeBytes: 10,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

/** A stream client that serves `pages` one per GetRecords call, then empty pages. */
function scriptedStream(pages: Array<Array<Record<string, unknown>> | Error>) {
  const iteratorRequests: unknown[] = [];
  const client = {
    send: (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      switch (command.constructor.name) {
        case 'DescribeStreamCommand':
          return Promise.resolve({
            StreamDescription: { Shards: [{ ShardId: 'shard-1', SequenceNumberRange: {} }] },
          });
        case 'GetShardIteratorCommand':
          iteratorRequests.push(command.input);
          return Promise.resolve({ ShardIterator: `iterator-${iteratorRequests.length}` });
        case 'GetRecordsCommand': {
          const page = pages.shift() ?? [];
          if (page instanceof Error) return Promise.reject(page);
          return Promise.resolve({ Records: page, NextShardIterator: 'next' });
        }
        default:
          return Promise.reject(new Error(`unexpected ${command.constructor.name}`));
      }
    },
    destroy: () => undefined,
  };
  return { client: client as unknown as DynamoDBStreamsClient, iteratorRequests };
}

/** A notification function that answers with `respond` and records the events and sequence numbers it saw. */
function scriptedFunction(respond: (sequenceNumbers: string[]) => DynamoDBBatchResponse | Error) {
  const events: DynamoDBStreamEvent[] = [];
  const batches: string[][] = [];
  return {
    events,
    batches,
    invoke: (event: unknown) => {
      events.push(event as DynamoDBStreamEvent);
      const sequenceNumbers = (event as DynamoDBStreamEvent).Records.map((r) => r.dynamodb!.SequenceNumber!);
      batches.push(sequenceNumbers);
      const response = respond(sequenceNumbers);
      return response instanceof Error ? Promise.reject(response) : Promise.resolve(response);
    },
  };
}

/** Every poller a test starts, stopped after it whether it passed or not. */
const started: StreamPoller[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((poller) => poller.stop()));
});

async function poll(
  pages: Parameters<typeof scriptedStream>[0],
  fn: ReturnType<typeof scriptedFunction>,
  retryAttempts = 2,
) {
  const stream = scriptedStream(pages);
  const reporter = recordingReporter();
  const poller = await StreamPoller.start({
    endpoint: 'unused',
    tableName: 'items',
    streamArn: STREAM,
    function: fn,
    batchSize: 100,
    retryAttempts,
    pollIntervalMs: 5,
    reporter,
    client: stream.client,
  });
  started.push(poller);
  return { poller, reporter, iteratorRequests: stream.iteratorRequests };
}

describe('the sandbox event source mapping', () => {
  test('delivers records as Lambda does: JSON, binary as base64, epoch seconds, the stream ARN', async () => {
    const fn = scriptedFunction(() => ({ batchItemFailures: [] }));
    const { poller } = await poll([[sdkRecord(1)]], fn);
    await eventually(() => fn.events.length > 0);
    await poller.stop();
    expect(fn.events[0]!.Records[0]).toEqual({
      eventID: 'e1',
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: STREAM,
      dynamodb: {
        ApproximateCreationDateTime: 1_700_000_000,
        Keys: { id: { S: 'item-1' } },
        NewImage: { id: { S: 'item-1' }, bytes: { B: 'AQID' } },
        SequenceNumber: '1',
        SizeBytes: 10,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
  });

  test("DynamoDB Local's TTL deletion reaches the function as Lambda delivers one: REMOVE by the DynamoDB service", async () => {
    const fn = scriptedFunction(() => ({ batchItemFailures: [] }));
    const { dynamodb } = sdkRecord(1);
    const expiry = {
      ...sdkRecord(1),
      eventName: 'UNKNOWN_TO_SDK_VERSION',
      dynamodb: { ...dynamodb, NewImage: undefined, OldImage: dynamodb.NewImage },
    };
    const { poller } = await poll([[expiry]], fn);
    await eventually(() => fn.events.length > 0);
    await poller.stop();
    const event = fn.events[0]!;
    expect(event.Records[0]).toMatchObject({
      eventName: 'REMOVE',
      userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' },
      dynamodb: { OldImage: { id: { S: 'item-1' } } },
    });
    expect(event.Records[0]!.dynamodb).not.toHaveProperty('NewImage');
  });

  test('a reported failure is retried with the records after it; then dead-lettered alone', async () => {
    const fn = scriptedFunction((seqs) => ({
      batchItemFailures: seqs.includes('2') ? [{ itemIdentifier: '2' }] : [],
    }));
    const { poller, reporter } = await poll([[sdkRecord(1), sdkRecord(2), sdkRecord(3)]], fn, 2);
    await eventually(() => poller.deadLetters.length === 1 && fn.batches.length === 4);
    await poller.stop();
    expect(fn.batches).toEqual([['1', '2', '3'], ['2', '3'], ['2', '3'], ['3']]);
    expect(poller.deadLetters).toEqual([
      expect.objectContaining({ table: 'items', sequenceNumber: '2', shardId: 'shard-1' }),
    ]);
    expect(reporter.lines.filter((l) => l.startsWith('streamRetrying'))).toEqual([
      'streamRetrying items 2 1',
      'streamRetrying items 2 2',
    ]);
  });

  test('each failing record gets its own retries, however many the records before it needed', async () => {
    const failures = [['2'], ['3'], ['3'], []];
    const fn = scriptedFunction(() => ({
      batchItemFailures: (failures.shift() ?? []).map((itemIdentifier) => ({ itemIdentifier })),
    }));
    const { poller } = await poll([[sdkRecord(1), sdkRecord(2), sdkRecord(3)]], fn, 2);
    await eventually(() => fn.batches.length === 4);
    await poller.stop();
    expect(fn.batches).toEqual([['1', '2', '3'], ['2', '3'], ['3'], ['3']]);
    expect(poller.deadLetters).toEqual([]);
  });

  test('a function error splits the batch until the failing record is alone', async () => {
    const fn = scriptedFunction((seqs) =>
      seqs.includes('3') ? new Error('crash') : { batchItemFailures: [] },
    );
    const { poller } = await poll([[sdkRecord(1), sdkRecord(2), sdkRecord(3), sdkRecord(4)]], fn, 1);
    await eventually(() => poller.deadLetters.length === 1 && fn.batches.some((b) => b.join() === '4'));
    await poller.stop();
    expect(fn.batches).toEqual([['1', '2', '3', '4'], ['1', '2'], ['3', '4'], ['3'], ['3'], ['4']]);
    expect(poller.deadLetters.map((letter) => letter.sequenceNumber)).toEqual(['3']);
  });

  test('an identifier that names no record of the batch fails the whole batch, like Lambda', async () => {
    let calls = 0;
    const fn = scriptedFunction(() =>
      calls++ === 0 ? { batchItemFailures: [{ itemIdentifier: 'bogus' }] } : { batchItemFailures: [] },
    );
    const { poller } = await poll([[sdkRecord(1), sdkRecord(2)]], fn);
    await eventually(() => fn.batches.length === 2);
    await poller.stop();
    expect(fn.batches).toEqual([
      ['1', '2'],
      ['1', '2'],
    ]);
  });

  test.each([
    [
      'TrimmedDataAccessException',
      () => new TrimmedDataAccessException({ message: 'trimmed', $metadata: {} }),
    ],
    ['ExpiredIteratorException', () => new ExpiredIteratorException({ message: 'expired', $metadata: {} })],
  ])('after a %s it resumes right after the last delivered record', async (_name, error) => {
    const fn = scriptedFunction(() => ({ batchItemFailures: [] }));
    const { poller, iteratorRequests } = await poll([[sdkRecord(1)], error(), [sdkRecord(2)]], fn);
    await eventually(() => fn.batches.length === 2);
    await poller.stop();
    expect(fn.batches).toEqual([['1'], ['2']]);
    expect(iteratorRequests.at(-1)).toEqual({
      StreamArn: STREAM,
      ShardId: 'shard-1',
      ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
      SequenceNumber: '1',
    });
  });

  test('any other read failure is reported and polling goes on', async () => {
    const fn = scriptedFunction(() => ({ batchItemFailures: [] }));
    const { poller, reporter } = await poll([new Error('connection reset'), [sdkRecord(1)]], fn);
    await eventually(() => fn.batches.length === 1, 5_000);
    await poller.stop();
    expect(reporter.lines).toContain('streamFailed items reading the stream failed: connection reset');
  });
});
