import { randomUUID } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { HistorySettings } from '../../lambdas/rohrpost/environment';
import type { GroupPosition } from '../../lambdas/rohrpost/protocol/position';
import { DynamoDbGroupHistory } from '../../lambdas/rohrpost/storage/group-history';
import { HistoryKeys, historyTableDefinition } from '../../lambdas/rohrpost/storage/history-table';
import { DynamoDbSequencer } from '../../lambdas/rohrpost/storage/sequencer';
import { createTables } from '../../sandbox/tables';
import { countingDocumentClient, testDynamoDbEndpoint, uniquePrefix } from '../support/dynamodb';

/** The groups' history on the real DynamoDB Local: places, retries, concurrent writers, recovery. */
describe('group history in DynamoDB', () => {
  let db: DynamoDBDocumentClient;
  let commands: string[];
  let settings: HistorySettings;
  let clock: number;
  const now = () => clock;

  beforeAll(async () => {
    ({ client: db, commands } = countingDocumentClient());
    const tableName = `${uniquePrefix()}history`;
    await createTables(testDynamoDbEndpoint(), [
      { tableName, definition: historyTableDefinition, stream: false },
    ]);
    settings = {
      tableName,
      retentionSeconds: 600,
      maxMessages: 5,
      positionLifetimeSeconds: 3600,
      recordLifetimeSeconds: 1200,
    };
  });
  beforeEach(() => {
    clock = Date.now();
    commands.length = 0;
  });
  afterAll(() => db.destroy());

  const sequencer = () => new DynamoDbSequencer(db, settings, { now });
  const history = () => new DynamoDbGroupHistory(db, settings, { now });
  const render = (recordId: string) => (position: GroupPosition) => JSON.stringify({ recordId, ...position });
  const group = () => `group-${randomUUID()}`;
  const storedMessages = async (name: string) => {
    const items: Array<Record<string, unknown>> = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await db.send(
        new QueryCommand({
          TableName: settings.tableName,
          KeyConditionExpression: '#g = :g AND begins_with(#k, :m)',
          ExpressionAttributeNames: { '#g': 'group', '#k': 'key' },
          ExpressionAttributeValues: { ':g': name, ':m': 'm#' },
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  };

  test('messages get seq 1, 2, 3 in one epoch, and are kept as they were sent', async () => {
    const name = group();
    const places = sequencer();
    const first = await places.append(name, 'r1', render('r1'));
    const second = await places.append(name, 'r2', render('r2'));
    const third = await places.append(name, 'r3', render('r3'));
    expect([first, second, third].map((placed) => placed.position.seq)).toEqual([1, 2, 3]);
    expect(new Set([first, second, third].map((placed) => placed.position.epoch)).size).toBe(1);
    expect(third).toEqual({
      position: third.position,
      payload: render('r3')(third.position),
      delivered: false,
    });
    expect((await storedMessages(name)).map((item) => item.payload)).toEqual(
      [first, second, third].map((placed) => placed.payload),
    );
    // The head was read once, then this instance remembered it.
    expect(commands.filter((command) => command === 'GetItemCommand')).toHaveLength(1);
    expect(commands.filter((command) => command === 'TransactWriteItemsCommand')).toHaveLength(3);
  });

  test('a record placed before gets its first place back, and once delivered says so', async () => {
    const name = group();
    const first = await sequencer().append(name, 'r1', render('r1'));
    await sequencer().append(name, 'r2', render('r2'));
    // Another instance, as a Lambda retry may run on.
    const again = await sequencer().append(name, 'r1', render('r1'));
    expect(again).toEqual(first);
    await sequencer().remember([{ group: name, recordId: 'r1', position: first.position, delivered: true }]);
    expect(await sequencer().append(name, 'r1', render('r1'))).toEqual({ ...first, delivered: true });
    expect(await storedMessages(name)).toHaveLength(2);
  });

  test('appends to several groups in one turn share one transaction, each group counting on its own', async () => {
    const [a, b, c] = [group(), group(), group()];
    const places = sequencer();
    const names = [a, b, a, c, b, a];
    const placed = await Promise.all(names.map((name, i) => places.append(name, `r${i}`, render(`r${i}`))));
    expect(placed.map((p) => p.position.seq)).toEqual([1, 1, 2, 1, 2, 3]);
    expect(commands.filter((command) => command === 'TransactWriteItemsCommand')).toHaveLength(1);
  });

  test('appends in one turn share one transaction; the next wait for it and share the next', async () => {
    const name = group();
    const places = sequencer();
    const ids = Array.from({ length: 60 }, (_, i) => `r${i}`);
    const placed = await Promise.all(ids.map((id) => places.append(name, id, render(id))));
    expect(placed.map((p) => p.position.seq)).toEqual(ids.map((_, i) => i + 1));
    expect(commands.filter((command) => command === 'TransactWriteItemsCommand')).toHaveLength(2);
  });

  test('writers on several instances at once never skip or repeat a seq', async () => {
    const name = group();
    const instances = [sequencer(), sequencer(), sequencer()];
    // Every record is appended by two instances, as a retry racing the first attempt would.
    const ids = Array.from({ length: 40 }, (_, i) => `r${i}`);
    const appends = ids.flatMap((id, i) => [
      instances[i % 3]!.append(name, id, render(id)),
      instances[(i + 1) % 3]!.append(name, id, render(id)),
    ]);
    const placed = await Promise.all(appends);
    for (let i = 0; i < placed.length; i += 2) expect(placed[i]).toEqual(placed[i + 1]);
    const seqs = placed.filter((_, i) => i % 2 === 0).map((p) => p.position.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(ids.map((_, i) => i + 1));
    const stored = await storedMessages(name);
    expect(stored.map((item) => item.seq)).toEqual(ids.map((_, i) => i + 1));
  });

  test('large messages are split over transactions of at most 4 MB', async () => {
    const name = group();
    const big = (recordId: string) => (position: GroupPosition) =>
      JSON.stringify({ recordId, ...position, padding: 'x'.repeat(100 * 1024) });
    const places = sequencer();
    const ids = Array.from({ length: 40 }, (_, i) => `r${i}`);
    const placed = await Promise.all(ids.map((id) => places.append(name, id, big(id))));
    expect(placed.map((p) => p.position.seq)).toEqual(ids.map((_, i) => i + 1));
    expect(commands.filter((command) => command === 'TransactWriteItemsCommand')).toHaveLength(2);
    expect(await storedMessages(name)).toHaveLength(40);
  });

  test('a subscriber starts a group without history at seq 0, in the epoch its messages will have', async () => {
    const name = group();
    const start = await history().position(name);
    expect(start.seq).toBe(0);
    const placed = await sequencer().append(name, 'r1', render('r1'));
    expect(placed.position).toEqual({ epoch: start.epoch, seq: 1 });
    expect(await history().position(name)).toEqual(placed.position);
  });

  test('two subscribers starting a group at once agree on its epoch', async () => {
    const name = group();
    const positions = await Promise.all(Array.from({ length: 5 }, () => history().position(name)));
    expect(new Set(positions.map((p) => p.epoch)).size).toBe(1);
  });

  describe('recovery', () => {
    async function groupWith(
      count: number,
    ): Promise<{ name: string; placed: GroupPosition[]; payloads: string[] }> {
      const name = group();
      const places = sequencer();
      const results = [];
      for (let i = 1; i <= count; i++) results.push(await places.append(name, `r${i}`, render(`r${i}`)));
      return { name, placed: results.map((r) => r.position), payloads: results.map((r) => r.payload) };
    }

    test('returns exactly the messages after since, oldest first', async () => {
      const { name, placed, payloads } = await groupWith(4);
      expect(await history().recover(name, placed[0]!)).toEqual({
        position: placed[3],
        messages: payloads.slice(1),
      });
      expect(await history().recover(name, placed[3]!)).toEqual({ position: placed[3], messages: [] });
      expect(await history().recover(name, { ...placed[0]!, seq: 0 })).toEqual({
        position: placed[3],
        messages: payloads,
      });
    });

    test('refuses another epoch, a seq from the future, or more than maxMessages back', async () => {
      const { name, placed } = await groupWith(7);
      const top = placed[6]!;
      expect(await history().recover(name, { epoch: 'other', seq: 3 })).toEqual({ position: top });
      expect(await history().recover(name, { ...top, seq: 8 })).toEqual({ position: top });
      expect(await history().recover(name, { ...top, seq: 1 })).toEqual({ position: top });
      expect((await history().recover(name, { ...top, seq: 2 })).messages).toHaveLength(5);
    });

    test('messages past their retention never come back, although TTL has not deleted them', async () => {
      const { name, placed } = await groupWith(3);
      clock += (settings.retentionSeconds + 1) * 1000;
      expect(await history().recover(name, placed[0]!)).toEqual({ position: placed[2] });
      expect(await storedMessages(name)).toHaveLength(3);
    });

    test('a gap in the stored messages means no recovery, not a partial one', async () => {
      const { name, placed } = await groupWith(3);
      await db.send(
        new PutCommand({
          TableName: settings.tableName,
          Item: {
            group: name,
            key: HistoryKeys.message(2),
            epoch: 'stale',
            seq: 2,
            payload: '{}',
            expiresAt: 2e9,
          },
        }),
      );
      expect(await history().recover(name, placed[0]!)).toEqual({ position: placed[2] });
    });

    test('a group whose position expired starts a new epoch; old positions no longer apply', async () => {
      const { name, placed } = await groupWith(2);
      clock += (settings.positionLifetimeSeconds + 1) * 1000;
      const fresh = await sequencer().append(name, 'later', render('later'));
      expect(fresh.position.seq).toBe(1);
      expect(fresh.position.epoch).not.toBe(placed[0]!.epoch);
      expect(await history().recover(name, placed[1]!)).toEqual({ position: fresh.position });
      const { Item } = await db.send(
        new GetCommand({ TableName: settings.tableName, Key: { group: name, key: HistoryKeys.message(1) } }),
      );
      expect(Item?.epoch).toBe(fresh.position.epoch);
    });

    test('costs one consistent Query of the head (its lanes beside it) and one of the messages', async () => {
      const { name, placed } = await groupWith(3);
      commands.length = 0;
      await history().recover(name, placed[0]!);
      expect(commands).toEqual(['QueryCommand', 'QueryCommand']);
    });
  });
});
