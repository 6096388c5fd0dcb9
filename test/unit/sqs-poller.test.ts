import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { Invokable } from '../../sandbox/gateway';
import { FunctionError } from '../../sandbox/lambda/function-error';
import type { LocalQueueOptions } from '../../sandbox/sqs/local-queue';
import { LocalQueue } from '../../sandbox/sqs/local-queue';
import type { QueueReporter, QueueSourceSettings } from '../../sandbox/sqs/sqs-poller';
import { SqsPoller } from '../../sandbox/sqs/sqs-poller';

/** A function whose invocations the test answers, one by one or with a rule. */
class TestFunction implements Invokable {
  readonly events: SQSEvent[] = [];
  running = 0;
  mostAtOnce = 0;
  private readonly pending: Array<{ event: SQSEvent; answer: (outcome: unknown) => void }> = [];

  constructor(private readonly rule?: (event: SQSEvent) => unknown) {}

  async invoke(event: unknown): Promise<unknown> {
    const sqsEvent = event as SQSEvent;
    this.events.push(sqsEvent);
    this.running++;
    this.mostAtOnce = Math.max(this.mostAtOnce, this.running);
    try {
      if (this.rule) return await this.rule(sqsEvent);
      const outcome = await new Promise<unknown>((answer) => this.pending.push({ event: sqsEvent, answer }));
      if (outcome instanceof Error) throw outcome;
      return outcome;
    } finally {
      this.running--;
    }
  }

  /** Answers the oldest invocation still waiting with a response, or an error to throw. */
  answer(outcome?: unknown): SQSEvent {
    const next = this.pending.shift();
    if (!next) throw new Error('No invocation is waiting for an answer.');
    next.answer(outcome);
    return next.event;
  }

  get waiting(): number {
    return this.pending.length;
  }
}

function recordingReporter() {
  const lines: string[] = [];
  const reporter: QueueReporter = {
    queueDelivered: (queue, messages) => lines.push(`${queue}: delivered ${messages}`),
    queueItemsFailed: (queue, ids) => lines.push(`${queue}: ${ids.length} failed`),
    queueBatchFailed: (queue, messages, reason) =>
      lines.push(`${queue}: batch of ${messages} failed: ${reason}`),
    queueDeadLettered: (queue, id, to) => lines.push(`${queue}: ${id} moved to ${to}`),
  };
  return { lines, reporter };
}

const bodies = (event: SQSEvent | undefined) => event?.Records.map((record) => record.body);
const settle = () => jest.advanceTimersByTimeAsync(0);

/**
 * Lambda's SQS event source mapping over a local queue, on jest's clock: what a batch's outcome
 * deletes, what comes back, FIFO order across concurrent invocations, and a clean stop.
 */
describe("the sandbox's SQS event source mapping", () => {
  const pollers: SqsPoller[] = [];
  const functions: TestFunction[] = [];
  beforeEach(() => jest.useFakeTimers({ now: 1_700_000_000_000 }));
  afterEach(async () => {
    const stopped = Promise.all(pollers.splice(0).map((poller) => poller.stop()));
    // Invocations still waiting for the test hold up the stop, as they would in Lambda.
    for (const fn of functions.splice(0)) while (fn.waiting > 0) fn.answer(undefined);
    await stopped;
    jest.useRealTimers();
  });

  const queue = (name: string, options: Partial<LocalQueueOptions> = {}) =>
    new LocalQueue({
      name,
      url: `http://127.0.0.1/000000000000/${name}`,
      visibilityTimeoutSeconds: 30,
      ...options,
    });

  function poll(
    from: LocalQueue,
    fn: Invokable,
    settings: Partial<QueueSourceSettings> = {},
    reporter = recordingReporter().reporter,
  ): SqsPoller {
    const poller = SqsPoller.start({
      queue: from,
      function: fn,
      settings: { batchSize: 10, maximumConcurrency: 2, reportBatchItemFailures: true, ...settings },
      reporter,
    });
    pollers.push(poller);
    if (fn instanceof TestFunction) functions.push(fn);
    return poller;
  }

  test('hands a batch over as Lambda builds the event, and a successful invocation deletes it', async () => {
    const letters = queue('letters');
    const fn = new TestFunction();
    const { lines, reporter } = recordingReporter();
    poll(letters, fn, {}, reporter);
    const sent = ['one', 'two', 'three'].map((body) => letters.send(body));
    await settle();

    expect(fn.events).toHaveLength(1);
    const [record] = fn.events[0]!.Records;
    expect(record).toEqual({
      messageId: sent[0]!.messageId,
      receiptHandle: expect.any(String) as unknown,
      body: 'one',
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(Date.now()),
        SenderId: 'local',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: sent[0]!.md5OfBody,
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:letters',
      awsRegion: 'us-east-1',
    });
    expect(bodies(fn.events[0])).toEqual(['one', 'two', 'three']);
    expect(letters.counts).toEqual({ visible: 0, inFlight: 3 });

    fn.answer(undefined);
    await settle();
    expect(letters.messages).toHaveLength(0);
    expect(lines).toEqual(['letters: delivered 3']);
  });

  test("a FIFO queue's records carry the group, the deduplication id and the sequence number", async () => {
    const lanes = queue('lanes.fifo');
    const fn = new TestFunction(() => undefined);
    poll(lanes, fn);
    const sent = lanes.send('wake', { groupId: 'lane-3', deduplicationId: 'note-1/12/3' });
    await settle();
    expect(fn.events[0]!.Records[0]!.attributes).toEqual({
      ApproximateReceiveCount: '1',
      SentTimestamp: String(Date.now()),
      SenderId: 'local',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
      SequenceNumber: sent.sequenceNumber,
      MessageGroupId: 'lane-3',
      MessageDeduplicationId: 'note-1/12/3',
    });
    expect(fn.events[0]!.Records[0]!.eventSourceARN).toBe('arn:aws:sqs:us-east-1:000000000000:lanes.fifo');
  });

  test('batchItemFailures deletes all but the named messages, which come back after their visibility timeout', async () => {
    const letters = queue('letters');
    const fn = new TestFunction();
    const { lines, reporter } = recordingReporter();
    poll(letters, fn, {}, reporter);
    for (const body of ['one', 'two', 'three']) letters.send(body);
    await settle();
    const failed = fn.events[0]!.Records[1]!;
    fn.answer({ batchItemFailures: [{ itemIdentifier: failed.messageId }] } satisfies SQSBatchResponse);
    await settle();
    expect(letters.messages.map((message) => message.body)).toEqual(['two']);
    expect(lines).toEqual(['letters: delivered 2', 'letters: 1 failed']);

    await jest.advanceTimersByTimeAsync(29_999);
    expect(fn.events).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(bodies(fn.events[1])).toEqual(['two']);
    expect(fn.events[1]!.Records[0]!.attributes.ApproximateReceiveCount).toBe('2');
  });

  test('a failed message the function made visible again comes back at once', async () => {
    const letters = queue('letters');
    const fn = new TestFunction();
    poll(letters, fn);
    letters.send('retry me');
    await settle();
    const [record] = fn.events[0]!.Records;
    letters.changeVisibility(record!.receiptHandle, 0);
    fn.answer({ batchItemFailures: [{ itemIdentifier: record!.messageId }] });
    await settle();
    expect(bodies(fn.events[1])).toEqual(['retry me']);
  });

  test.each([
    ['names no message of the batch', { batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] }],
    ['has an empty identifier', { batchItemFailures: [{ itemIdentifier: '' }] }],
    ['has no identifier', { batchItemFailures: [{ id: 'x' }] }],
    ['is not a list', { batchItemFailures: 'all of them' }],
  ])('a response whose batchItemFailures %s leaves the whole batch', async (_, response) => {
    const letters = queue('letters');
    const fn = new TestFunction();
    const { lines, reporter } = recordingReporter();
    poll(letters, fn, {}, reporter);
    letters.send('one');
    letters.send('two');
    await settle();
    fn.answer(response);
    await settle();
    expect(letters.counts).toEqual({ visible: 0, inFlight: 2 });
    expect(lines).toEqual([expect.stringMatching(/^letters: batch of 2 failed: .*whole batch failed$/)]);
    await jest.advanceTimersByTimeAsync(30_000);
    expect(bodies(fn.events[1])).toEqual(['one', 'two']);
  });

  test.each([
    ['null', null],
    ['an empty list', { batchItemFailures: [] }],
    ['no list', { statusCode: 200 }],
  ])('a response with %s of failures is a complete success', async (_, response) => {
    const letters = queue('letters');
    const fn = new TestFunction();
    poll(letters, fn);
    letters.send('one');
    await settle();
    fn.answer(response);
    await settle();
    expect(letters.messages).toHaveLength(0);
  });

  test('without reportBatchItemFailures a batchItemFailures response is a success like any other', async () => {
    const letters = queue('letters');
    const fn = new TestFunction();
    poll(letters, fn, { reportBatchItemFailures: false });
    letters.send('one');
    await settle();
    fn.answer({ batchItemFailures: [{ itemIdentifier: fn.events[0]!.Records[0]!.messageId }] });
    await settle();
    expect(letters.messages).toHaveLength(0);
  });

  test.each(['handler-error', 'crash', 'timeout'] as const)(
    'a function error (%s) leaves the whole batch to come back after the visibility timeout',
    async (reason) => {
      const letters = queue('letters');
      const fn = new TestFunction();
      const { lines, reporter } = recordingReporter();
      poll(letters, fn, {}, reporter);
      letters.send('one');
      letters.send('two');
      await settle();
      fn.answer(new FunctionError('worker', reason, 'it failed'));
      await settle();
      expect(letters.counts).toEqual({ visible: 0, inFlight: 2 });
      expect(lines).toEqual(['letters: batch of 2 failed: worker: it failed']);
      await jest.advanceTimersByTimeAsync(30_000);
      expect(bodies(fn.events[1])).toEqual(['one', 'two']);
      expect(fn.events[1]!.Records.map((record) => record.attributes.ApproximateReceiveCount)).toEqual([
        '2',
        '2',
      ]);
    },
  );

  test('a message that keeps failing moves to the dead-letter queue after maxReceiveCount, and its group goes on', async () => {
    const deadLetters = queue('lanes-dlq.fifo');
    const { lines, reporter } = recordingReporter();
    const lanes = queue('lanes.fifo', {
      deadLetter: { queue: deadLetters, maxReceiveCount: 2 },
      onDeadLetter: (message, to) => reporter.queueDeadLettered('lanes.fifo', message.messageId, to.name),
    });
    const fn = new TestFunction((event) => {
      if (event.Records.some((record) => record.body === 'poison'))
        throw new FunctionError('worker', 'handler-error', 'boom');
    });
    poll(lanes, fn, { batchSize: 1 }, reporter);
    const poison = lanes.send('poison', { groupId: 'g', deduplicationId: '1' });
    lanes.send('after', { groupId: 'g', deduplicationId: '2' });
    await settle();
    await jest.advanceTimersByTimeAsync(30_000);
    await jest.advanceTimersByTimeAsync(30_000);
    expect(fn.events.map(bodies)).toEqual([['poison'], ['poison'], ['after']]);
    expect(deadLetters.messages.map((message) => [message.messageId, message.body])).toEqual([
      [poison.messageId, 'poison'],
    ]);
    expect(lines).toContain(`lanes.fifo: ${poison.messageId} moved to lanes-dlq.fifo`);
    expect(lanes.messages).toHaveLength(0);
  });

  test('FIFO: concurrent invocations never share a group and each group arrives in order', async () => {
    const lanes = queue('lanes.fifo');
    const groups = ['g1', 'g2', 'g3', 'g4', 'g5'];
    const active = new Set<string>();
    const seen = new Map<string, number[]>();
    let overlaps = 0;
    const fn = new TestFunction(async (event) => {
      const mine = [...new Set(event.Records.map((record) => record.attributes.MessageGroupId!))];
      for (const group of mine) {
        if (active.has(group)) overlaps++;
        active.add(group);
      }
      for (const record of event.Records) {
        const [group, n] = record.body.split('/');
        seen.set(group!, [...(seen.get(group!) ?? []), Number(n)]);
      }
      // Each invocation takes a while, longer for some groups: invocations overlap.
      await new Promise((resolve) => setTimeout(resolve, 10 * Number(mine[0]!.slice(1))));
      for (const group of mine) active.delete(group);
    });
    poll(lanes, fn, { batchSize: 2, maximumConcurrency: 3 });
    for (let n = 1; n <= 6; n++) {
      for (const group of groups)
        lanes.send(`${group}/${n}`, { groupId: group, deduplicationId: `${group}-${n}` });
    }
    for (let i = 0; i < 100 && lanes.messages.length > 0; i++) await jest.advanceTimersByTimeAsync(10);

    expect(lanes.messages).toHaveLength(0);
    expect(overlaps).toBe(0);
    for (const group of groups) expect(seen.get(group)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(fn.mostAtOnce).toBe(3);
  });

  test('never more invocations at once than maximumConcurrency', async () => {
    const letters = queue('letters');
    const fn = new TestFunction();
    poll(letters, fn, { batchSize: 1, maximumConcurrency: 3 });
    for (let n = 0; n < 10; n++) letters.send(`m${n}`);
    await settle();
    expect(fn.waiting).toBe(3);
    for (let done = 0; done < 10; done++) {
      expect(fn.running).toBeLessThanOrEqual(3);
      fn.answer(undefined);
      await settle();
    }
    expect(fn.mostAtOnce).toBe(3);
    expect(fn.events).toHaveLength(10);
    expect(letters.messages).toHaveLength(0);
  });

  test('a throttled invocation is tried again, the batch kept in flight meanwhile', async () => {
    const letters = queue('letters');
    let throttles = 2;
    const fn = new TestFunction(() => {
      if (throttles-- > 0) throw new FunctionError('worker', 'throttled', 'Rate Exceeded.');
    });
    poll(letters, fn);
    letters.send('one');
    await settle();
    expect(fn.events).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(100);
    expect(fn.events).toHaveLength(2);
    expect(letters.counts.inFlight).toBe(1);
    await jest.advanceTimersByTimeAsync(100);
    expect(fn.events).toHaveLength(3);
    expect(letters.messages).toHaveLength(0);
  });

  test('stop waits for the invocation under way, settles its batch, and leaves no timer or long poll behind', async () => {
    const letters = queue('letters');
    const fn = new TestFunction();
    const poller = poll(letters, fn, { maximumConcurrency: 4 });
    letters.send('one');
    await settle();
    let stopped = false;
    void poller.stop().then(() => (stopped = true));
    await jest.advanceTimersByTimeAsync(60_000);
    expect(stopped).toBe(false);

    fn.answer(undefined);
    await settle();
    expect(stopped).toBe(true);
    expect(letters.messages).toHaveLength(0);
    expect(jest.getTimerCount()).toBe(0);
    letters.send('after the stop');
    await jest.advanceTimersByTimeAsync(60_000);
    expect(fn.events).toHaveLength(1);
  });

  test('a stopped queue ends the poller too', async () => {
    const letters = queue('letters');
    const poller = poll(letters, new TestFunction());
    letters.stop();
    await settle();
    await poller.stop();
    expect(jest.getTimerCount()).toBe(0);
  });

  test.each([
    [{ batchSize: 0 }],
    [{ batchSize: 11 }],
    [{ maximumConcurrency: 1 }],
    [{ maximumConcurrency: 1001 }],
  ])('refuses the settings %p', (settings) => {
    expect(() => poll(queue('letters'), new TestFunction(), settings)).toThrow(RangeError);
  });
});
