import type { DynamoDBRecord } from 'aws-lambda';
import { defineNotificationHooks } from '../../lambdas/rohrpost/changes/notices';
import { defineConfig } from '../../lambdas/rohrpost/config';
import type { Connections } from '../../lambdas/rohrpost/delivery/connections';
import { ConnectionGoneError } from '../../lambdas/rohrpost/delivery/connections';
import type { DeadLetters, UndeliverableRecord } from '../../lambdas/rohrpost/delivery/dead-letters';
import type { GroupPosition } from '../../lambdas/rohrpost/protocol/position';
import type { MetricsRecorder } from '../../lambdas/rohrpost/metrics';
import { createNotificationHandler } from '../../lambdas/rohrpost/runtime/notification-handler';
import type { MembershipStore } from '../../lambdas/rohrpost/storage/membership';
import { MemoryFailureLedger } from '../../lambdas/rohrpost/storage/failure-ledger';
import type { MessagePlace, Sequencer } from '../../lambdas/rohrpost/storage/sequencer';
import { ManagementApiError } from '../../lambdas/rohrpost/delivery/signed-connections';
import { createMetrics } from '../../lambdas/rohrpost/metrics';
import { metricLinesOf } from '../support/metric-lines';
import { recordingLogger } from '../support/recording-logger';

/**
 * The notification function's failure paths, with a scripted membership store and connections;
 * the happy path runs against DynamoDB Local and the sandbox in the integration tests.
 */
const config = defineConfig({
  tables: {
    items: { partitionKey: { name: 'id', type: 'string' }, notifications: { group: 'item-{id}' } },
    plain: { partitionKey: { name: 'id', type: 'string' } },
  },
});

let sequence = 0;
function insert(table: string, id: string, extra: Record<string, unknown> = {}): DynamoDBRecord {
  sequence++;
  return {
    eventID: `e${sequence}`,
    eventName: 'INSERT',
    eventSourceARN: `arn:aws:dynamodb:us-east-1:1:table/${table}-physical/stream/x`,
    dynamodb: {
      Keys: { id: { S: id } },
      NewImage: { id: { S: id }, ...extra },
      SequenceNumber: String(sequence),
    },
  };
}

/** A sequencer in memory, with the DynamoDB one's contract: a record keeps its first place. */
function memorySequencer() {
  const places = new Map<string, { position: GroupPosition; delivered: boolean }>();
  const tops = new Map<string, number>();
  const remembered: Array<MessagePlace & { lifetimeSeconds?: number }> = [];
  const sequencer: Sequencer = {
    append: (group, recordId, render) => {
      let place = places.get(`${group} ${recordId}`);
      const delivered = place?.delivered ?? false;
      if (!place) {
        const seq = (tops.get(group) ?? 0) + 1;
        tops.set(group, seq);
        place = { position: { epoch: 'E', seq }, delivered: false };
        places.set(`${group} ${recordId}`, place);
      }
      return Promise.resolve({ position: place.position, payload: render(place.position), delivered });
    },
    remember: (kept, lifetimeSeconds) => {
      remembered.push(...kept.map((place) => ({ ...place, lifetimeSeconds })));
      for (const { group, recordId, delivered } of kept)
        places.get(`${group} ${recordId}`)!.delivered = delivered;
      return Promise.resolve();
    },
  };
  return { sequencer, remembered };
}

function setUp(
  options: {
    members?: string[];
    post?: Connections['post'];
    query?: () => Promise<void>;
    sequencer?: Sequencer;
    deadLetters?: DeadLetters;
    metrics?: MetricsRecorder;
    now?: () => number;
  } = {},
) {
  const posted: string[] = [];
  const left: string[] = [];
  const membership: MembershipStore = {
    join: () => Promise.resolve(undefined),
    leave: () => Promise.resolve(),
    leaveAll: (connectionId) => (left.push(connectionId), Promise.resolve(['some-group'])),
    members: async function* (group) {
      await options.query?.();
      yield options.members ?? [`a@${group}`, `b@${group}`];
    },
  };
  const connections: Connections = {
    post:
      options.post ??
      ((connectionId, payload) => {
        posted.push(`${connectionId} ${(JSON.parse(payload) as { data: { type: string } }).data.type}`);
        return Promise.resolve();
      }),
    close: () => Promise.resolve(),
  };
  const logger = recordingLogger();
  const ledger = new MemoryFailureLedger();
  const handler = createNotificationHandler({
    config,
    hooks: [
      defineNotificationHooks('items', {
        group: (change) => {
          if (change.item.poison) throw new Error('this item cannot be named');
          return `item-${String(change.item.id)}`;
        },
      }),
    ],
    tableLabels: () => ({ 'items-physical': 'items', 'plain-physical': 'plain' }),
    membership: () => membership,
    connections: () => connections,
    sequencer: () => options.sequencer,
    deadLetters: () => options.deadLetters,
    failureLedger: () => ledger,
    logger,
    metrics: options.metrics,
    now: options.now,
  });
  return { handler, posted, left, logger };
}

describe('the notification function when things fail', () => {
  test('counts records, posts and the latency to the first and last post in one embedded-metric-format line per batch', async () => {
    let createdAt = 0;
    /** When the handler ran: its posts were delivered in between. */
    const ran = { from: 0, to: 0 };
    const lines = await metricLinesOf(async () => {
      const metrics = createMetrics('rohrpost-notifications');
      const letters: UndeliverableRecord[] = [];
      const { handler } = setUp({
        metrics,
        deadLetters: { send: (letter) => (letters.push(letter), Promise.resolve()) },
      });
      const poison = insert('items', 'same', { poison: { BOOL: true } });
      const heldBack = insert('items', 'same');
      const tooLong = insert('items', 'y'.repeat(1_100));
      const fine = insert('items', 'fine');
      // DynamoDB gives a record's creation time to the second: this change is 3 s old.
      createdAt = Math.floor(Date.now() / 1000) - 3;
      fine.dynamodb!.ApproximateCreationDateTime = createdAt;
      ran.from = Date.now();
      await handler({ Records: [poison, heldBack, tooLong, fine] });
      ran.to = Date.now();
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      _aws: {
        CloudWatchMetrics: [
          {
            Namespace: 'rohrpost',
            Dimensions: [['service']],
            Metrics: expect.arrayContaining([
              { Name: 'RecordsReceived', Unit: 'Count' },
              { Name: 'RecordsFailed', Unit: 'Count' },
              { Name: 'RecordsDeadLettered', Unit: 'Count' },
              { Name: 'NotificationsSent', Unit: 'Count' },
              { Name: 'PostsDelivered', Unit: 'Count' },
              { Name: 'PostsGone', Unit: 'Count' },
              { Name: 'PostsThrottled', Unit: 'Count' },
              { Name: 'PostsFailed', Unit: 'Count' },
              { Name: 'FirstPostLatency', Unit: 'Milliseconds' },
              { Name: 'LastPostLatency', Unit: 'Milliseconds' },
            ]),
          },
        ],
      },
      service: 'rohrpost-notifications',
      RecordsReceived: 4,
      RecordsFailed: 2,
      RecordsDeadLettered: 1,
      NotificationsSent: 1, // the fine change, to its group
      PostsDelivered: 2, // to the group's two members
      PostsGone: 0,
      PostsThrottled: 0,
      PostsFailed: 0,
    });
    // From the record's creation to the posts, in milliseconds, whatever time the handler took.
    const first = lines[0]!.FirstPostLatency as number;
    const last = lines[0]!.LastPostLatency as number;
    expect(first).toBeGreaterThanOrEqual(ran.from - createdAt * 1000);
    expect(first).toBeGreaterThanOrEqual(3_000);
    expect(last).toBeGreaterThanOrEqual(first);
    expect(last).toBeLessThanOrEqual(ran.to - createdAt * 1000);
  });

  test('tells posts delivered, gone, throttled after the retries, and failed otherwise apart', async () => {
    const throttledBySdk = Object.assign(new Error('Rate exceeded'), {
      name: 'LimitExceededException',
      $metadata: { httpStatusCode: 429 },
    });
    const outcomes: Record<string, () => Promise<void>> = {
      delivered: () => Promise.resolve(),
      gone: () => Promise.reject(new ConnectionGoneError('gone')),
      throttled: () => Promise.reject(new ManagementApiError(429, 'LimitExceededException', 'Rate exceeded')),
      throttledBySdk: () => Promise.reject(throttledBySdk),
      failed: () => Promise.reject(new ManagementApiError(500, 'InternalServerError', 'oops')),
    };
    const lines = await metricLinesOf(async () => {
      const metrics = createMetrics('rohrpost-notifications');
      const { handler } = setUp({
        metrics,
        members: Object.keys(outcomes),
        post: (connectionId) => outcomes[connectionId]!(),
      });
      const result = await handler({ Records: [insert('items', 'one')] });
      expect(result.batchItemFailures).toHaveLength(1); // failed posts: the record is retried
    });
    expect(lines[0]).toMatchObject({
      RecordsFailed: 1,
      NotificationsSent: 1,
      PostsDelivered: 1,
      PostsGone: 1,
      PostsThrottled: 2,
      PostsFailed: 1,
    });
  });

  test('a poison record is a batch item failure; the rest of the batch is delivered', async () => {
    const { handler, posted, logger } = setUp();
    const good = insert('items', 'one');
    const poison = insert('items', 'two', { poison: { BOOL: true } });
    const other = insert('items', 'three');
    const result = await handler({ Records: [good, poison, other] });
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: poison.dynamodb!.SequenceNumber }] });
    expect(posted.sort()).toEqual([
      'a@item-one create',
      'a@item-three create',
      'b@item-one create',
      'b@item-three create',
    ]);
    expect(logger.entries).toEqual([
      expect.objectContaining({ level: 'error', fields: expect.objectContaining({ heldBack: 0 }) }),
    ]);
  });

  test('later records of a failed item are held back too, so the item keeps its order', async () => {
    const { handler, posted } = setUp();
    const first = insert('items', 'same', { poison: { BOOL: true } });
    const second = insert('items', 'same');
    const elsewhere = insert('items', 'other');
    const result = await handler({ Records: [first, second, elsewhere] });
    expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([
      first.dynamodb!.SequenceNumber,
      second.dynamodb!.SequenceNumber,
    ]);
    expect(posted.sort()).toEqual(['a@item-other create', 'b@item-other create']);
  });

  test('a change that can never be notified goes to the dead-letter queue at once, and once', async () => {
    const letters: UndeliverableRecord[] = [];
    const { handler, logger, posted } = setUp({
      deadLetters: { send: (letter) => (letters.push(letter), Promise.resolve()) },
    });
    const stray = insert('plain', 'x');
    const tooLong = insert('items', 'y'.repeat(1_100));
    const fine = insert('items', 'fine');
    for (let attempt = 0; attempt < 2; attempt++) {
      expect(await handler({ Records: [stray, tooLong, fine] })).toEqual({ batchItemFailures: [] });
    }
    expect(letters.map((letter) => [letter.table, letter.record.eventID, letter.reason])).toEqual([
      ['plain', stray.eventID, expect.stringContaining("table 'plain-physical', which has no notifications")],
      ['items', tooLong.eventID, expect.stringContaining('A group name has at most 1024 bytes')],
    ]);
    expect(logger.entries.filter((entry) => entry.level === 'error').map((entry) => entry.message)).toEqual([
      'A change can never be notified: sent to the dead-letter queue',
      'A change can never be notified to some of its groups: sent to the dead-letter queue; its other groups got it',
    ]);
    expect(letters.map((letter) => [letter.kind, letter.groups])).toEqual([
      ['undeliverable', undefined],
      ['undeliverable', ['item-' + 'y'.repeat(1_100)]],
    ]);
    expect(posted).toContain('a@item-fine create');
  });

  test('without a dead-letter queue, or when it cannot be reached, such a change is retried', async () => {
    const stray = insert('plain', 'x');
    const unreachable = { send: () => Promise.reject(new Error('SQS is down')) };
    for (const deadLetters of [undefined, unreachable]) {
      const { handler, logger } = setUp({ deadLetters });
      expect(await handler({ Records: [stray] })).toEqual({
        batchItemFailures: [{ itemIdentifier: stray.dynamodb!.SequenceNumber }],
      });
      expect(logger.entries.at(-1)?.message).toBe('A change could not be notified; it will be retried');
    }
  });

  test('a retried batch resends only what did not reach every member, with the same id and seq', async () => {
    const { sequencer, remembered } = memorySequencer();
    const payloads: string[] = [];
    let failNext = true;
    const { handler } = setUp({
      sequencer,
      post: (connectionId, payload) => {
        if (connectionId === 'a@item-one' && failNext) {
          failNext = false;
          return Promise.reject(new Error('503 from API Gateway'));
        }
        payloads.push(`${connectionId} ${payload}`);
        return Promise.resolve();
      },
    });
    const [before, one, two] = [insert('items', 'zero'), insert('items', 'one'), insert('items', 'two')];
    // Lambda retries from the first failed record, with the records after it.
    expect((await handler({ Records: [before, one, two] })).batchItemFailures).toEqual([
      { itemIdentifier: one.dynamodb!.SequenceNumber },
    ]);
    expect(remembered.map((place) => `${place.group} ${place.position.seq} ${place.delivered}`)).toEqual([
      'item-two 1 true',
    ]);
    expect((await handler({ Records: [one, two] })).batchItemFailures).toEqual([]);

    const received = (member: string) => payloads.filter((line) => line.startsWith(`${member} `));
    expect(received('b@item-one')).toHaveLength(2);
    expect(received('b@item-one')[0]).toBe(received('b@item-one')[1]);
    expect(received('a@item-one')).toEqual([received('b@item-one')[0]!.replace('b@', 'a@')]);
    expect(received('b@item-two')).toHaveLength(1);
    expect(JSON.parse(received('b@item-two')[0]!.split(' ')[1]!)).toMatchObject({
      type: 'subscription-update',
      data: { group: 'item-two', type: 'create', seq: 1, epoch: 'E' },
    });
  });

  test('a failing post fails the record; the other members still get it', async () => {
    const delivered: string[] = [];
    const { handler } = setUp({
      post: (connectionId) => {
        if (connectionId.startsWith('a@')) return Promise.reject(new Error('503 from API Gateway'));
        delivered.push(connectionId);
        return Promise.resolve();
      },
    });
    const record = insert('items', 'one');
    expect((await handler({ Records: [record] })).batchItemFailures).toEqual([
      { itemIdentifier: record.dynamodb!.SequenceNumber },
    ]);
    expect(delivered).toEqual(['b@item-one']);
  });

  test('a gone member is removed from its groups, once, and is not a failure', async () => {
    const { handler, left } = setUp({
      members: ['gone', 'here'],
      post: (connectionId) =>
        connectionId.startsWith('gone')
          ? Promise.reject(new ConnectionGoneError(connectionId))
          : Promise.resolve(),
    });
    const result = await handler({ Records: [insert('items', 'one'), insert('items', 'two')] });
    expect(result).toEqual({ batchItemFailures: [] });
    expect(left).toEqual(['gone']);
  });

  test('a failing membership query fails the record', async () => {
    const { handler } = setUp({ query: () => Promise.reject(new Error('ProvisionedThroughputExceeded')) });
    const record = insert('items', 'one');
    expect((await handler({ Records: [record] })).batchItemFailures).toHaveLength(1);
  });

  describe('a record that keeps failing', () => {
    // The configuration's retryAttempts is 5: Lambda's sixth attempt is its last.
    const letterBox = () => {
      const letters: UndeliverableRecord[] = [];
      return {
        letters,
        deadLetters: { send: (letter: UndeliverableRecord) => (letters.push(letter), Promise.resolve()) },
      };
    };

    test('is set aside with its content on what would be Lambda’s last attempt, and its item’s later records go on', async () => {
      const { letters, deadLetters } = letterBox();
      const { sequencer, remembered } = memorySequencer();
      const { handler, posted } = setUp({ deadLetters, sequencer });
      const poison = insert('items', 'same', { poison: { BOOL: true } });
      const later = insert('items', 'same');
      const failures = [];
      for (let attempt = 1; attempt <= 6; attempt++) {
        failures.push((await handler({ Records: [poison, later] })).batchItemFailures.length);
      }
      expect(failures).toEqual([2, 2, 2, 2, 2, 0]);
      expect(letters).toEqual([
        expect.objectContaining({
          kind: 'failing',
          table: 'items',
          record: poison,
          attempts: 6,
          reason: 'this item cannot be named',
        }),
      ]);
      expect(letters[0]).not.toHaveProperty('groups'); // no group could be named: all of them
      expect(posted).toEqual(['a@item-same create', 'b@item-same create']);
      expect(remembered).toEqual([]);
    });

    test('held-back records count as attempts: one that then fails on the last attempt is set aside at once', async () => {
      const { letters, deadLetters } = letterBox();
      const { handler } = setUp({ deadLetters });
      const blocker = insert('items', 'same', { poison: { BOOL: true } });
      const alsoPoison = insert('items', 'same', { poison: { BOOL: true } });
      for (let attempt = 1; attempt <= 6; attempt++) await handler({ Records: [blocker, alsoPoison] });
      expect(letters.map((letter) => [letter.record.eventID, letter.attempts])).toEqual([
        [blocker.eventID, 6],
        [alsoPoison.eventID, 6],
      ]);
    });

    test('a record near its maximum age is set aside on its first failure, with the groups that failed', async () => {
      const { letters, deadLetters } = letterBox();
      const { sequencer, remembered } = memorySequencer();
      const clock = 1_800_000_000_000;
      const { handler } = setUp({
        deadLetters,
        sequencer,
        now: () => clock,
        post: (connectionId) =>
          connectionId.startsWith('a@') ? Promise.reject(new Error('503')) : Promise.resolve(),
      });
      const old = insert('items', 'old');
      // The maximum record age is 3600 s; the margin is a minute (or two function timeouts).
      old.dynamodb!.ApproximateCreationDateTime = clock / 1000 - 3600 + 119;
      expect(await handler({ Records: [old] })).toEqual({ batchItemFailures: [] });
      expect(letters).toEqual([
        expect.objectContaining({ kind: 'failing', groups: ['item-old'], attempts: 1 }),
      ]);
      // Its place is kept as long as the dead-letter queue keeps the letter: a redrive sends the same seq.
      expect(remembered).toEqual([
        expect.objectContaining({ group: 'item-old', delivered: false, lifetimeSeconds: 14 * 24 * 3600 }),
      ]);
    });

    test('without a dead-letter queue it stays with Lambda: reported as failed every time', async () => {
      const { handler } = setUp();
      const poison = insert('items', 'p', { poison: { BOOL: true } });
      for (let attempt = 1; attempt <= 7; attempt++) {
        expect((await handler({ Records: [poison] })).batchItemFailures).toHaveLength(1);
      }
    });
  });

  test('one impossible group does not silence the others: only that part is set aside', async () => {
    const letters: UndeliverableRecord[] = [];
    const { sequencer, remembered } = memorySequencer();
    const posted: string[] = [];
    const handler = createNotificationHandler({
      config: defineConfig({
        tables: {
          notes: {
            partitionKey: { name: 'id', type: 'string' },
            notifications: { group: ['note-{id}', 'notes-all'] },
          },
        },
      }),
      tableLabels: () => ({ 'notes-physical': 'notes' }),
      membership: () => ({
        join: () => Promise.resolve(undefined),
        leave: () => Promise.resolve(),
        leaveAll: () => Promise.resolve([]),
        members: async function* (group) {
          yield await Promise.resolve([`m@${group.slice(0, 10)}`]);
        },
      }),
      connections: () => ({
        post: (id) => (posted.push(id), Promise.resolve()),
        close: () => Promise.resolve(),
      }),
      sequencer: () => sequencer,
      deadLetters: () => ({ send: (letter) => (letters.push(letter), Promise.resolve()) }),
      failureLedger: () => new MemoryFailureLedger(),
      logger: recordingLogger(),
    });
    const id = 'é'.repeat(510); // note-<id> is 1,025 bytes
    const record = insert('notes', id);
    expect(await handler({ Records: [record] })).toEqual({ batchItemFailures: [] });
    expect(posted).toEqual(['m@notes-all']);
    expect(letters).toEqual([
      expect.objectContaining({
        kind: 'undeliverable',
        groups: [`note-${id}`],
        reason: expect.stringContaining('A group name has at most 1024 bytes; this one has 1025.'),
      }),
    ]);
    expect(remembered).toEqual([expect.objectContaining({ group: 'notes-all', delivered: true })]);
  });

  test('a redrive sends what was not delivered, skips what was, and reports each record', async () => {
    const { sequencer } = memorySequencer();
    let down = true;
    const { handler, posted } = setUp({
      sequencer,
      post: (connectionId) =>
        down && connectionId.startsWith('a@') ? Promise.reject(new Error('503')) : Promise.resolve(),
    });
    const flaky = insert('items', 'flaky');
    const poison = insert('items', 'poison', { poison: { BOOL: true } });
    await handler({ Records: [flaky] });
    down = false;
    posted.length = 0;
    const first = await handler({ Records: [flaky, poison], redrive: true });
    expect(first.redrive).toEqual([
      { sequenceNumber: flaky.dynamodb!.SequenceNumber, outcome: 'sent' },
      {
        sequenceNumber: poison.dynamodb!.SequenceNumber,
        outcome: 'failed',
        reason: 'this item cannot be named',
      },
    ]);
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: poison.dynamodb!.SequenceNumber }]);
    const again = await handler({ Records: [flaky], redrive: true });
    expect(again.redrive).toEqual([
      { sequenceNumber: flaky.dynamodb!.SequenceNumber, outcome: 'already-delivered' },
    ]);
  });

  test('hooks for a table without notifications are refused when the function loads', () => {
    expect(() =>
      createNotificationHandler({ config, hooks: [defineNotificationHooks('plain', { group: () => 'x' })] }),
    ).toThrow("Notification hooks for table 'plain', which has no notifications in rohrpost.config.ts.");
  });
});
