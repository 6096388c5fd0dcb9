import type { LocalQueueOptions, ReceivedMessage, StoredMessage } from '../../sandbox/sqs/local-queue';
import { LocalQueue, QueueError } from '../../sandbox/sqs/local-queue';

/**
 * The sandbox's queues with SQS's semantics, on a clock the tests move: FIFO groups in order and
 * one consumer at a time, deduplication for 5 minutes, and the redrive policy.
 */
describe('LocalQueue', () => {
  let clock: number;
  beforeEach(() => {
    clock = 1_700_000_000_000;
  });
  const now = () => clock;
  const queue = (name: string, options: Partial<LocalQueueOptions> = {}) =>
    new LocalQueue({ name, url: `http://127.0.0.1/000000000000/${name}`, now, ...options });
  const bodies = (messages: readonly { body: string }[]) => messages.map((message) => message.body);

  /** Sends `body` to its group, the body's letter: `a1` to group `a`. */
  let dedup = 0;
  const sendTo = (fifo: LocalQueue, ...messages: string[]) =>
    messages.map((body) => fifo.send(body, { groupId: body[0]!, deduplicationId: `d${++dedup}` }));
  const receive = (from: LocalQueue, max = 10) => from.receive({ max });

  describe('FIFO', () => {
    test('a name ending in .fifo makes a FIFO queue', () => {
      expect(queue('lanes.fifo').fifo).toBe(true);
      expect(queue('letters').fifo).toBe(false);
      expect(queue('lanes.fifo').arn).toBe('arn:aws:sqs:us-east-1:000000000000:lanes.fifo');
    });

    test('a send needs a message group and a deduplication id, as SQS answers without them', () => {
      const fifo = queue('lanes.fifo');
      const refusal = (options: { groupId?: string; deduplicationId?: string }) => {
        try {
          fifo.send('x', options);
        } catch (error) {
          return error instanceof QueueError ? [error.code, error.message] : error;
        }
        return 'sent';
      };
      expect(refusal({ deduplicationId: 'd' })).toEqual([
        'MissingParameter',
        'The request must contain the parameter MessageGroupId.',
      ]);
      expect(refusal({ groupId: 'g' })).toEqual([
        'InvalidParameterValue',
        'The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly',
      ]);
      expect((refusal({ groupId: 'with space', deduplicationId: 'd' }) as string[])[0]).toBe(
        'InvalidParameterValue',
      );
      expect((refusal({ groupId: 'g', deduplicationId: 'x'.repeat(129) }) as string[])[0]).toBe(
        'InvalidParameterValue',
      );
      expect(fifo.messages).toHaveLength(0);
      expect(refusal({ groupId: 'g', deduplicationId: 'd' })).toBe('sent');
    });

    test('a standard queue refuses a deduplication id and takes a group (a fair-queue tenant)', () => {
      const standard = queue('letters');
      expect(() => standard.send('x', { deduplicationId: 'd' })).toThrow(QueueError);
      standard.send('x', { groupId: 'tenant-1' });
      expect(standard.messages[0]!.groupId).toBe('tenant-1');
    });

    test('one receive returns as many messages of one group as it can, in order, then the next group', async () => {
      const fifo = queue('lanes.fifo');
      sendTo(fifo, 'a1', 'b1', 'a2', 'c1', 'b2', 'a3');
      expect(bodies(await receive(fifo, 4))).toEqual(['a1', 'a2', 'a3', 'b1']);
      // a and b have messages in flight: only c is left to anyone else.
      expect(bodies(await receive(fifo))).toEqual(['c1']);
      expect(await receive(fifo)).toEqual([]);
    });

    test('while a group has a message in flight, none of its later messages is returned', async () => {
      const fifo = queue('lanes.fifo');
      sendTo(fifo, 'a1', 'a2', 'b1', 'a3');
      const [a1] = await receive(fifo, 1);
      expect(a1!.body).toBe('a1');
      expect(bodies(await receive(fifo))).toEqual(['b1']);
      expect(await receive(fifo)).toEqual([]);

      expect(fifo.delete(a1!.receiptHandle)).toBe(true);
      expect(bodies(await receive(fifo))).toEqual(['a2', 'a3']);
    });

    test('a message that comes back after its visibility timeout comes before the rest of its group', async () => {
      const fifo = queue('lanes.fifo', { visibilityTimeoutSeconds: 30 });
      sendTo(fifo, 'a1', 'a2');
      await receive(fifo, 1);
      clock += 29_999;
      expect(await receive(fifo)).toEqual([]);
      clock += 1;
      const again = await receive(fifo);
      expect(bodies(again)).toEqual(['a1', 'a2']);
      expect(again.map((message) => message.attributes.ApproximateReceiveCount)).toEqual(['2', '1']);
    });

    test('a message made visible again at once unblocks its group', async () => {
      const fifo = queue('lanes.fifo');
      sendTo(fifo, 'a1', 'a2');
      const [a1] = await receive(fifo, 1);
      expect(fifo.changeVisibility(a1!.receiptHandle, 0)).toBe(true);
      expect(bodies(await receive(fifo))).toEqual(['a1', 'a2']);
    });

    test('a deduplication id seen in the last 5 minutes is accepted and not stored again, even once the first is gone', async () => {
      const fifo = queue('lanes.fifo');
      const first = fifo.send('first', { groupId: 'g', deduplicationId: 'lane-1/7' });
      clock += 60_000;
      const duplicate = fifo.send('again', { groupId: 'g', deduplicationId: 'lane-1/7' });
      expect(duplicate.messageId).toBe(first.messageId);
      expect(duplicate.sequenceNumber).toBe(first.sequenceNumber);
      expect(bodies(fifo.messages)).toEqual(['first']);

      const [received] = await receive(fifo);
      fifo.delete(received!.receiptHandle);
      clock += 4 * 60_000 - 1; // 5 minutes after the first send, less a millisecond
      expect(fifo.send('later', { groupId: 'g', deduplicationId: 'lane-1/7' }).messageId).toBe(
        first.messageId,
      );
      expect(fifo.messages).toHaveLength(0);

      clock += 1;
      const fresh = fifo.send('later', { groupId: 'g', deduplicationId: 'lane-1/7' });
      expect(fresh.messageId).not.toBe(first.messageId);
      expect(bodies(fifo.messages)).toEqual(['later']);
    });

    test('messages get rising sequence numbers, in the send answer and the received attributes', async () => {
      const fifo = queue('lanes.fifo');
      const sent = sendTo(fifo, 'a1', 'b1', 'a2', 'b2');
      const numbers = sent.map((message) => BigInt(message.sequenceNumber!));
      expect(numbers).toEqual([...numbers].sort((x, y) => (x < y ? -1 : 1)));
      expect(new Set(numbers).size).toBe(4);
      expect(sent[0]!.sequenceNumber).toMatch(/^\d{20}$/);

      const received = await receive(fifo, 1);
      expect(received[0]!.attributes).toEqual({
        SenderId: 'local',
        SentTimestamp: String(clock),
        ApproximateReceiveCount: '1',
        ApproximateFirstReceiveTimestamp: String(clock),
        SequenceNumber: sent[0]!.sequenceNumber,
        MessageGroupId: 'a',
        MessageDeduplicationId: expect.stringMatching(/^d\d+$/) as unknown,
      });
    });
  });

  describe('the redrive policy', () => {
    test('a FIFO message received maxReceiveCount times moves to the dead-letter queue instead of being returned, and its group goes on', async () => {
      const moved: Array<[StoredMessage, string]> = [];
      const deadLetters = queue('lanes-dlq.fifo');
      const fifo = queue('lanes.fifo', {
        visibilityTimeoutSeconds: 30,
        deadLetter: { queue: deadLetters, maxReceiveCount: 2 },
        onDeadLetter: (message, to) => moved.push([message, to.name]),
      });
      const [sent] = sendTo(fifo, 'a1', 'a2');
      expect(bodies(await receive(fifo, 1))).toEqual(['a1']);
      clock += 30_000;
      expect(bodies(await receive(fifo, 1))).toEqual(['a1']);
      clock += 30_000;
      const next = await receive(fifo, 1);
      expect(bodies(next)).toEqual(['a2']);
      expect(bodies(fifo.messages)).toEqual(['a2']);

      expect(moved.map(([message, to]) => [message.body, to])).toEqual([['a1', 'lanes-dlq.fifo']]);
      const [letter] = await receive(deadLetters);
      expect(letter).toMatchObject({ messageId: sent!.messageId, body: 'a1' });
      expect(letter!.attributes).toMatchObject({
        MessageGroupId: 'a',
        MessageDeduplicationId: expect.stringMatching(/^d\d+$/) as unknown,
        SequenceNumber: sent!.sequenceNumber,
        DeadLetterQueueSourceArn: fifo.arn,
        ApproximateReceiveCount: '3',
      });
      // FIFO: the retention counts from the move.
      expect(moved[0]![0].enqueuedAt).toBe(clock);
    });

    test('a standard message moves too, its retention still counted from its send', async () => {
      const deadLetters = queue('letters-dlq');
      const standard = queue('letters', { deadLetter: { queue: deadLetters, maxReceiveCount: 1 } });
      standard.send('poison');
      const sentAt = clock;
      await receive(standard);
      clock += 30_000;
      expect(await receive(standard)).toEqual([]);
      expect(
        deadLetters.messages.map((message) => [message.body, message.enqueuedAt, message.sentAt]),
      ).toEqual([['poison', sentAt, sentAt]]);
    });

    test('the dead-letter queue is of the same kind, and maxReceiveCount from 1 to 1000', () => {
      expect(() => queue('lanes.fifo', { deadLetter: { queue: queue('dlq'), maxReceiveCount: 3 } })).toThrow(
        /must be a FIFO queue/,
      );
      expect(() =>
        queue('letters', { deadLetter: { queue: queue('dlq.fifo'), maxReceiveCount: 3 } }),
      ).toThrow(/must be a standard queue/);
      for (const maxReceiveCount of [0, 1001, 1.5]) {
        expect(() => queue('letters', { deadLetter: { queue: queue('dlq'), maxReceiveCount } })).toThrow(
          RangeError,
        );
      }
    });
  });

  describe('visibility and receipt handles', () => {
    test('only the latest receipt handle deletes a message or changes its visibility', async () => {
      const standard = queue('letters', { visibilityTimeoutSeconds: 10 });
      standard.send('m');
      const [first] = await receive(standard);
      expect(await receive(standard)).toEqual([]);
      clock += 10_000;
      const [second] = await receive(standard);
      expect(second!.attributes.ApproximateReceiveCount).toBe('2');
      expect(second!.attributes.ApproximateFirstReceiveTimestamp).toBe(
        first!.attributes.ApproximateFirstReceiveTimestamp,
      );
      expect(standard.delete(first!.receiptHandle)).toBe(false);
      expect(standard.changeVisibility(first!.receiptHandle, 0)).toBe(false);
      expect(standard.delete(second!.receiptHandle)).toBe(true);
      expect(standard.messages).toHaveLength(0);
    });

    test('a message not in flight cannot have its visibility changed', async () => {
      const standard = queue('letters', { visibilityTimeoutSeconds: 10 });
      standard.send('m');
      const [message] = await receive(standard);
      clock += 10_000;
      expect(standard.changeVisibility(message!.receiptHandle, 60)).toBe(false);
    });

    test('a receive may hide its messages for longer or shorter than the queue does', async () => {
      const standard = queue('letters');
      standard.send('m');
      await standard.receive({ max: 1, visibilityTimeoutSeconds: 5 });
      clock += 5_000;
      expect(bodies(await receive(standard))).toEqual(['m']);
      expect(standard.counts).toEqual({ visible: 0, inFlight: 1 });
    });

    test('messages older than the retention period are gone', async () => {
      const standard = queue('letters', { retentionSeconds: 60 });
      standard.send('old');
      clock += 30_000;
      standard.send('young');
      clock += 30_001;
      expect(bodies(await receive(standard))).toEqual(['young']);
    });
  });

  describe('long polls', () => {
    beforeEach(() => jest.useFakeTimers({ now: clock }));
    afterEach(() => jest.useRealTimers());
    const realClockQueue = (name: string) =>
      new LocalQueue({ name, url: `http://127.0.0.1/000000000000/${name}` });

    function settled(promise: Promise<ReceivedMessage[]>) {
      const state: { messages?: ReceivedMessage[] } = {};
      void promise.then((messages) => (state.messages = messages));
      return state;
    }

    test('a long poll on a FIFO queue returns the next message of a group once its message in flight is deleted', async () => {
      const fifo = realClockQueue('lanes.fifo');
      sendTo(fifo, 'a1', 'a2');
      const [a1] = await fifo.receive({ max: 1 });
      const poll = settled(fifo.receive({ max: 10, waitMs: 20_000 }));
      await jest.advanceTimersByTimeAsync(1_000);
      expect(poll.messages).toBeUndefined();
      fifo.delete(a1!.receiptHandle);
      await jest.advanceTimersByTimeAsync(0);
      expect(bodies(poll.messages!)).toEqual(['a2']);
    });

    test('a long poll returns a message as its visibility timeout ends, and one sent meanwhile at once', async () => {
      const standard = realClockQueue('letters');
      standard.send('m');
      await standard.receive({ max: 1, visibilityTimeoutSeconds: 5 });
      const poll = settled(standard.receive({ max: 10, waitMs: 20_000 }));
      await jest.advanceTimersByTimeAsync(4_999);
      expect(poll.messages).toBeUndefined();
      await jest.advanceTimersByTimeAsync(1);
      expect(bodies(poll.messages!)).toEqual(['m']);

      const next = settled(standard.receive({ max: 10, waitMs: 20_000 }));
      await jest.advanceTimersByTimeAsync(100);
      standard.send('n');
      await jest.advanceTimersByTimeAsync(0);
      expect(bodies(next.messages!)).toEqual(['n']);
    });

    test('a message moved to a dead-letter queue wakes a long poll there', async () => {
      const deadLetters = realClockQueue('dlq');
      const standard = new LocalQueue({
        name: 'letters',
        url: 'http://127.0.0.1/000000000000/letters',
        deadLetter: { queue: deadLetters, maxReceiveCount: 1 },
      });
      standard.send('poison');
      await standard.receive({ max: 1, visibilityTimeoutSeconds: 0 });
      const poll = settled(deadLetters.receive({ max: 10, waitMs: 20_000 }));
      await standard.receive({ max: 1 });
      await jest.advanceTimersByTimeAsync(0);
      expect(bodies(poll.messages!)).toEqual(['poison']);
    });

    test('stop and an aborted signal end long polls at once, leaving no timer behind', async () => {
      const standard = realClockQueue('letters');
      const controller = new AbortController();
      const aborted = settled(standard.receive({ max: 1, waitMs: 20_000, signal: controller.signal }));
      controller.abort();
      await jest.advanceTimersByTimeAsync(0);
      expect(aborted.messages).toEqual([]);

      const stopped = settled(standard.receive({ max: 1, waitMs: 20_000 }));
      await jest.advanceTimersByTimeAsync(0);
      standard.stop();
      await jest.advanceTimersByTimeAsync(0);
      expect(stopped.messages).toEqual([]);
      expect(jest.getTimerCount()).toBe(0);
      expect(await standard.receive({ max: 1, waitMs: 20_000 })).toEqual([]);
    });
  });
});
