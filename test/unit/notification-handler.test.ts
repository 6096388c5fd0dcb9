import type { DynamoDBRecord } from 'aws-lambda';
import { defineConfig } from '../../lambdas/config';
import type { Connections } from '../../lambdas/delivery/connections';
import { ConnectionGoneError } from '../../lambdas/delivery/connections';
import { defineNotificationHooks } from '../../lambdas/changes/notification';
import { createNotificationHandler } from '../../lambdas/runtime/notification-handler';
import type { MembershipStore } from '../../lambdas/storage/membership';
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

function setUp(
  options: { members?: string[]; post?: Connections['post']; query?: () => Promise<void> } = {},
) {
  const posted: string[] = [];
  const left: string[] = [];
  const membership: MembershipStore = {
    join: () => Promise.resolve(),
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
    logger,
  });
  return { handler, posted, left, logger };
}

describe('the notification function when things fail', () => {
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

  test('a record from a table without notifications fails rather than vanishing', async () => {
    const { handler, logger } = setUp();
    const stray = insert('plain', 'x');
    expect(await handler({ Records: [stray] })).toEqual({
      batchItemFailures: [{ itemIdentifier: stray.dynamodb!.SequenceNumber }],
    });
    expect(String((logger.entries[0]?.fields?.error as Error).message)).toContain("table 'plain-physical'");
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

  test('hooks for a table without notifications are refused when the function loads', () => {
    expect(() =>
      createNotificationHandler({ config, hooks: [defineNotificationHooks('plain', { group: () => 'x' })] }),
    ).toThrow("Notification hooks for table 'plain', which has no notifications in rohrpost.config.ts.");
  });
});
