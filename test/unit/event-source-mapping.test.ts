import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { ExpiredIteratorException, TrimmedDataAccessException } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { FunctionError } from '../../sandbox/lambda/function-error';
import type { StreamSettings } from '../../sandbox/streams/stream-batches';
import { StreamBatches } from '../../sandbox/streams/stream-batches';
import { StreamPoller } from '../../sandbox/streams/stream-poller';
import { eventually, recordingReporter } from '../support/recording-reporter';

/**
 * The sandbox's event source mapping, with a scripted stream and function: how it reads a
 * stream (StreamPoller), and how it hands batches to the function with Lambda's semantics
 * (StreamBatches). The real stream (DynamoDB Local) is exercised by the integration tests.
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

/** The stack's settings, as the deployment plan gives them, with a given number of retries. */
function settings(overrides: Partial<StreamSettings> = {}): StreamSettings {
  return {
    batchSize: 100,
    bisectBatchOnFunctionError: true,
    reportBatchItemFailures: true,
    maximumRetryAttempts: 2,
    maximumRecordAgeSeconds: 3600,
    ...overrides,
  };
}

/** Lambda-shaped records with sequence numbers 1..n, created `ageSeconds` ago. */
function records(count: number, ageSeconds = 0): DynamoDBRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    eventID: `e${i + 1}`,
    eventName: 'INSERT',
    eventSourceARN: STREAM,
    dynamodb: {
      ApproximateCreationDateTime: Date.now() / 1000 - ageSeconds,
      Keys: { id: { S: `item-${i + 1}` } },
      SequenceNumber: String(i + 1),
    },
  }));
}

/** Runs one shard's batch through the mapping; returns what the function saw and the on-failure records sent. */
async function process(
  batch: DynamoDBRecord[],
  fn: ReturnType<typeof scriptedFunction>,
  overrides: Partial<StreamSettings> = {},
) {
  const onFailure: Array<Record<string, unknown>> = [];
  const reporter = recordingReporter();
  const batches = new StreamBatches({
    table: 'items',
    streamArn: STREAM,
    functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:notifications',
    function: fn,
    settings: settings(overrides),
    onFailure: (body) => onFailure.push(JSON.parse(body) as Record<string, unknown>),
    reporter,
    stopped: () => false,
    retryDelayMs: () => 1,
    throttleDelayMs: 1,
  });
  await batches.process('shard-1', batch);
  return { onFailure, reporter };
}

describe('the sandbox event source mapping: how it reads the stream', () => {
  const started: StreamPoller[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((poller) => poller.stop()));
  });

  async function poll(pages: Parameters<typeof scriptedStream>[0], fn: ReturnType<typeof scriptedFunction>) {
    const stream = scriptedStream(pages);
    const reporter = recordingReporter();
    const poller = await StreamPoller.start({
      endpoint: 'unused',
      tableName: 'items',
      streamArn: STREAM,
      startingPosition: 'LATEST',
      batchSize: 100,
      pollIntervalMs: 5,
      reporter,
      client: stream.client,
      batches: (streamArn) =>
        new StreamBatches({
          table: 'items',
          streamArn,
          functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:notifications',
          function: fn,
          settings: settings(),
          onFailure: () => undefined,
          reporter,
          stopped: () => false,
        }),
    });
    started.push(poller);
    return { poller, reporter, iteratorRequests: stream.iteratorRequests };
  }

  test('delivers records as Lambda does: JSON, binary as base64, the stream ARN, the time read to the millisecond', async () => {
    const fn = scriptedFunction(() => ({ batchItemFailures: [] }));
    const before = Date.now();
    const { poller } = await poll([[sdkRecord(1)]], fn);
    await eventually(() => fn.events.length > 0);
    await poller.stop();
    const record = fn.events[0]!.Records[0]!;
    expect(record).toEqual({
      eventID: 'e1',
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: STREAM,
      dynamodb: {
        ApproximateCreationDateTime: expect.any(Number),
        Keys: { id: { S: 'item-1' } },
        NewImage: { id: { S: 'item-1' }, bytes: { B: 'AQID' } },
        SequenceNumber: '1',
        SizeBytes: 10,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
    // DynamoDB Local rounds its own time down to the minute: the poller gives the time it read the record.
    expect(record.dynamodb!.ApproximateCreationDateTime! * 1000).toBeGreaterThanOrEqual(before);
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
    await eventually(() => fn.batches.length === 1);
    await poller.stop();
    expect(reporter.lines).toContain('streamFailed items reading the stream failed: connection reset');
  });
});

describe('the sandbox event source mapping: how it hands batches to the function, as Lambda does', () => {
  test('a reported failure is retried from the lowest failed sequence number, with the whole rest of the batch', async () => {
    const failures = [['4', '2'], ['3'], []];
    const fn = scriptedFunction(() => ({
      batchItemFailures: (failures.shift() ?? []).map((itemIdentifier) => ({ itemIdentifier })),
    }));
    const { onFailure } = await process(records(5), fn);
    expect(fn.batches).toEqual([
      ['1', '2', '3', '4', '5'],
      ['2', '3', '4', '5'],
      ['3', '4', '5'],
    ]);
    expect(onFailure).toEqual([]);
  });

  test('after MaximumRetryAttempts it gives up on the whole rest of the batch and sends AWS’s on-failure record', async () => {
    const fn = scriptedFunction((seqs) => ({
      batchItemFailures: seqs.includes('2') ? [{ itemIdentifier: '2' }] : [],
    }));
    const { onFailure, reporter } = await process(records(4), fn, { maximumRetryAttempts: 2 });
    expect(fn.batches).toEqual([
      ['1', '2', '3', '4'],
      ['2', '3', '4'],
      ['2', '3', '4'],
    ]);
    expect(onFailure).toEqual([
      {
        requestContext: {
          requestId: expect.any(String),
          functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:notifications',
          condition: 'RetryAttemptsExhausted',
          approximateInvokeCount: 3,
        },
        responseContext: { statusCode: 200, executedVersion: '$LATEST' },
        version: '1.0',
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        DDBStreamBatchInfo: {
          shardId: 'shard-1',
          startSequenceNumber: '2',
          endSequenceNumber: '4',
          approximateArrivalOfFirstRecord: expect.stringMatching(/^\d{4}-.*:\d\dZ$/),
          approximateArrivalOfLastRecord: expect.stringMatching(/^\d{4}-.*:\d\dZ$/),
          batchSize: 3,
          streamArn: STREAM,
        },
      },
    ]);
    expect(reporter.lines.filter((line) => line.startsWith('streamRetrying'))).toEqual([
      'streamRetrying items 2 1',
      'streamRetrying items 2 2',
    ]);
  });

  test('progress does not restart the count of retries (the stricter reading of what AWS leaves open)', async () => {
    const failures = [['2'], ['3'], ['3']];
    const fn = scriptedFunction(() => ({
      batchItemFailures: (failures.shift() ?? []).map((itemIdentifier) => ({ itemIdentifier })),
    }));
    const { onFailure } = await process(records(3), fn, { maximumRetryAttempts: 2 });
    expect(fn.batches).toEqual([['1', '2', '3'], ['2', '3'], ['3']]);
    expect(
      onFailure.map(
        (record) => (record.DDBStreamBatchInfo as { startSequenceNumber: string }).startSequenceNumber,
      ),
    ).toEqual(['3']);
  });

  test('a function error splits the batch, each half on its own, without using up retries; a record failing alone is given up on', async () => {
    const fn = scriptedFunction((seqs) =>
      seqs.includes('3') ? new Error('crash') : { batchItemFailures: [] },
    );
    const { onFailure } = await process(records(4), fn, { maximumRetryAttempts: 1 });
    expect(fn.batches).toEqual([['1', '2', '3', '4'], ['1', '2'], ['3', '4'], ['3'], ['3'], ['4']]);
    expect(onFailure).toEqual([
      expect.objectContaining({
        requestContext: expect.objectContaining({
          condition: 'RetryAttemptsExhausted',
          approximateInvokeCount: 2,
        }),
        responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
        DDBStreamBatchInfo: expect.objectContaining({
          startSequenceNumber: '3',
          endSequenceNumber: '3',
          batchSize: 1,
        }),
      }),
    ]);
  });

  test('without BisectBatchOnFunctionError a function error retries the whole batch', async () => {
    const fn = scriptedFunction(() => new Error('crash'));
    const { onFailure } = await process(records(2), fn, {
      bisectBatchOnFunctionError: false,
      maximumRetryAttempts: 1,
    });
    expect(fn.batches).toEqual([
      ['1', '2'],
      ['1', '2'],
    ]);
    expect(onFailure).toHaveLength(1);
  });

  test('an identifier that names no record of the batch fails the whole batch', async () => {
    let calls = 0;
    const fn = scriptedFunction(() =>
      calls++ === 0 ? { batchItemFailures: [{ itemIdentifier: 'bogus' }] } : { batchItemFailures: [] },
    );
    await process(records(2), fn);
    expect(fn.batches).toEqual([
      ['1', '2'],
      ['1', '2'],
    ]);
  });

  test('an answer that is no partial batch response counts as success, as Lambda counts it', async () => {
    const fn = scriptedFunction(() => ({ statusCode: 500 }) as never);
    const { onFailure } = await process(records(2), fn);
    expect(fn.batches).toEqual([['1', '2']]);
    expect(onFailure).toEqual([]);
  });

  test('records older than MaximumRecordAgeInSeconds are given up on before the function sees them', async () => {
    const fn = scriptedFunction(() => ({ batchItemFailures: [] }));
    const batch = [...records(2, 120), ...records(3).slice(2)];
    const { onFailure } = await process(batch, fn, { maximumRecordAgeSeconds: 60 });
    expect(fn.batches).toEqual([['3']]);
    expect(onFailure).toEqual([
      expect.objectContaining({
        requestContext: expect.objectContaining({
          condition: 'RecordAgeExceeded',
          approximateInvokeCount: 0,
        }),
        DDBStreamBatchInfo: expect.objectContaining({ startSequenceNumber: '1', endSequenceNumber: '2' }),
      }),
    ]);
    expect(onFailure[0]).not.toHaveProperty('responseContext');
  });

  test('a throttled invocation is tried again without using up a retry', async () => {
    let throttles = 3;
    const fn = {
      ...scriptedFunction(() => ({ batchItemFailures: [] })),
    };
    const invoke = fn.invoke;
    fn.invoke = (event: unknown) =>
      throttles-- > 0
        ? Promise.reject(new FunctionError('notifications', 'throttled', 'Rate Exceeded'))
        : invoke(event);
    const { onFailure } = await process(records(1), fn, { maximumRetryAttempts: 0 });
    expect(fn.batches).toEqual([['1']]);
    expect(onFailure).toEqual([]);
  });
});
