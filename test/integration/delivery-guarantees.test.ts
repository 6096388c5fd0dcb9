import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { GroupPosition } from '../../lambdas/rohrpost/protocol/position';
import { eventually } from '../support/recording-reporter';
import { letterFor } from '../support/dead-letters';
import { useFixtureSandbox } from '../support/fixture-sandbox';
import type { TestSocket } from '../support/socket';
import type { Update } from '../support/updates';
import { changeIn } from '../support/updates';

interface SubscribeReply {
  id: unknown;
  type: 'subscribe';
  data: { group: string; epoch: string; seq: number; recovered?: boolean };
}

/**
 * What a subscriber can rely on when things go wrong (PROTOCOL.md §5): retried records,
 * poison records, items that move between groups, and clients that were away. Real DynamoDB
 * Local streams, the notification function in the sandbox, real sockets.
 */
describe('delivery guarantees in the sandbox', () => {
  const fixture = useFixtureSandbox();
  const { reporter, table, put, client } = fixture;
  /** Writes items in one transaction: their records are next to each other in the stream, in this order. */
  const putTogether = (label: string, items: Array<Record<string, unknown>>) =>
    fixture.db.send(
      new TransactWriteCommand({
        TransactItems: items.map((Item) => ({ Put: { TableName: table(label), Item } })),
      }),
    );

  async function subscribe(
    socket: TestSocket,
    group: unknown,
    since?: GroupPosition,
  ): Promise<SubscribeReply> {
    return socket.askJson<SubscribeReply>({
      id: 's',
      type: 'subscribe',
      data: group,
      ...(since && { since }),
    });
  }

  async function subscribed(group: unknown): Promise<TestSocket> {
    const socket = await client();
    await subscribe(socket, group);
    return socket;
  }

  const nextUpdate = (socket: TestSocket) => socket.nextJson<Update>();

  async function take(socket: TestSocket, count: number): Promise<Update[]> {
    const updates: Update[] = [];
    while (updates.length < count) updates.push(await nextUpdate(socket));
    return updates;
  }

  /** Reads updates until one for `group` with `seq`, a sentinel written last, arrives; returns them all. */
  async function updatesUntil(socket: TestSocket, group: string, seq: number): Promise<Update[]> {
    const updates: Update[] = [];
    for (;;) {
      const update = await nextUpdate(socket);
      updates.push(update);
      if (update.data.group === group && update.data.seq === seq) return updates;
    }
  }

  const retriesOf = (label: string) =>
    reporter.lines.filter((line) => line.startsWith(`streamRetrying ${table(label)} `)).length;

  test('a record whose first attempt fails is retried; the records after it are not sent twice', async () => {
    const member = await subscribed('hooked-all');
    const retriesBefore = retriesOf('hooked');
    await putTogether('hooked', [{ id: 'flaky', flaky: true }, { id: 'f1' }, { id: 'f2' }, { id: 'f3' }]);
    const updates = await take(member, 4);
    expect(updates.map((update) => update.data.object.id).sort()).toEqual(['f1', 'f2', 'f3', 'flaky']);
    expect(updates.map((update) => update.data.seq).sort()).toEqual([1, 2, 3, 4]);
    // The flaky record got its place on its retry; the others got theirs, and were sent, in the first attempt.
    expect(updates.find((update) => update.data.object.id === 'flaky')?.data.seq).toBe(4);
    expect(retriesOf('hooked') - retriesBefore).toBe(1);
    await put('hooked', { id: 'sentinel' });
    expect((await nextUpdate(member)).data).toMatchObject({ seq: 5, object: { id: 'sentinel' } });
    expect(member.received).toHaveLength(1 + 5); // the subscribe reply and five updates, none twice
  });

  test('a post that fails is retried with the very same message: same id, same seq, same bytes', async () => {
    const [first, second] = [
      await subscribed({ type: 'item', id: 'retried' }),
      await subscribed({ type: 'item', id: 'retried' }),
    ];
    const retriesBefore = retriesOf('items');
    // The first post is refused for good (403 is not retried by the client), so the record fails once.
    fixture.sandbox.gateway.injectPostFailures(403);
    await put('items', { id: 'retried', name: 'once' });
    // One member got it on both attempts, the other on the retry only: three frames of one message.
    await eventually(() => first.received.length + second.received.length === 2 + 3);
    const frames = [...first.received.slice(1), ...second.received.slice(1)];
    expect(new Set(frames).size).toBe(1);
    expect(JSON.parse(frames[0]!)).toMatchObject({ data: { group: 'item-retried', seq: 1 } });
    expect(retriesOf('items') - retriesBefore).toBe(1);
  });

  test('an undeliverable change is dead-lettered at once, and the changes around it are sent once', async () => {
    const member = await subscribed({ type: 'item', id: 'watched' });
    const retriesBefore = retriesOf('items');
    const poison = { id: 'x'.repeat(1_100), name: 'poison' };
    await put('items', { id: 'watched', name: 'v0' });
    expect((await nextUpdate(member)).data.seq).toBe(1);
    await put('items', poison);
    for (let version = 1; version <= 5; version++) await put('items', { id: 'watched', name: `v${version}` });
    const updates = await updatesUntil(member, 'item-watched', 6);
    expect(updates.map((update) => `${update.data.seq} ${String(update.data.object.name)}`)).toEqual([
      '2 v1',
      '3 v2',
      '4 v3',
      '5 v4',
      '6 v5',
    ]);
    await eventually(() => letterFor(fixture.sandbox, poison.id) !== undefined);
    const letter = letterFor(fixture.sandbox, poison.id)!;
    expect(letter).toMatchObject({ kind: 'undeliverable', table: 'items', groups: [`item-${poison.id}`] });
    expect(letter.reason).toContain('A group name has at most 1024 bytes; this one has 1105.');
    expect(retriesOf('items')).toBe(retriesBefore);
  });

  test('a poison record is retried, then set aside with its content before Lambda gives up; the records after it are sent once', async () => {
    const member = await subscribed('hooked-all');
    const {
      data: { seq },
    } = await subscribe(member, 'hooked-all');
    const retriesBefore = retriesOf('hooked');
    await putTogether('hooked', [
      { id: 'poisoned', poison: true },
      ...Array.from({ length: 5 }, (_, i) => ({ id: `after-${i}` })),
    ]);
    await eventually(() => letterFor(fixture.sandbox, 'poisoned') !== undefined);
    // Lambda's retries start at the poison, so its batch came three times (retryAttempts: 2) and
    // the function set it aside on the third; its five others were sent once.
    expect(retriesOf('hooked') - retriesBefore).toBe(2);
    await put('hooked', { id: 'sentinel-2' });
    const updates = await updatesUntil(member, 'hooked-all', seq + 6);
    expect(updates.map((update) => update.data.object.id).sort()).toEqual([
      'after-0',
      'after-1',
      'after-2',
      'after-3',
      'after-4',
      'sentinel-2',
    ]);
    expect(letterFor(fixture.sandbox, 'poisoned')).toMatchObject({ kind: 'failing', attempts: 3 });
    // The function set it aside with its content: Lambda gave up on nothing, so no record is known by its sequence number only.
    expect(fixture.sandbox.deadLetters.filter((letter) => letter.source === 'lambda')).toEqual([]);
  });

  test('an item that moves is a create in its new group, a delete in its old one, each with its own seq', async () => {
    const [card, boardA, boardB] = [
      await subscribed('card-c1'),
      await subscribed('board-a'),
      await subscribed('board-b'),
    ];
    await put('cards', { id: 'c1', board: 'a', title: 'Plan' });
    expect(changeIn(await nextUpdate(card))).toEqual({
      group: 'card-c1',
      type: 'create',
      object: { id: 'c1', board: 'a', title: 'Plan' },
    });
    expect((await nextUpdate(boardA)).data).toMatchObject({ type: 'create', seq: 1 });
    await put('cards', { id: 'c1', board: 'b', title: 'Plan' });
    expect((await nextUpdate(card)).data).toMatchObject({
      type: 'update',
      object: { id: 'c1', board: 'b', updated_fields: ['board'] },
      seq: 2,
    });
    expect((await nextUpdate(boardB)).data).toMatchObject({
      type: 'create',
      object: { id: 'c1', board: 'b', title: 'Plan' },
      seq: 1,
    });
    expect((await nextUpdate(boardA)).data).toMatchObject({
      type: 'delete',
      object: { id: 'c1', board: 'a', title: 'Plan' },
      seq: 2,
    });
  });

  describe('recovery after a disconnect', () => {
    test('a client that resubscribes with since receives exactly what it missed, then the reply', async () => {
      const away = await client();
      const { data: before } = await subscribe(away, { type: 'item', id: 'away' });
      await put('items', { id: 'away', name: 'seen' });
      const seen = await nextUpdate(away);
      await away.close();

      const witness = await subscribed({ type: 'item', id: 'away' });
      for (const name of ['missed 1', 'missed 2', 'missed 3']) await put('items', { id: 'away', name });
      const missed = [await witness.next(), await witness.next(), await witness.next()];

      const back = await client();
      back.send({ id: 'r', type: 'subscribe', data: { type: 'item', id: 'away' }, since: seen.data });
      const frames = [await back.next(), await back.next(), await back.next(), await back.next()];
      expect(frames.slice(0, 3)).toEqual(missed); // byte for byte: the same ids, seqs and epoch
      expect(JSON.parse(frames[3]!)).toEqual({
        id: 'r',
        type: 'subscribe',
        data: { group: 'item-away', epoch: before.epoch, seq: before.seq + 4, recovered: true },
      });
    });

    test('a client that missed nothing gets no messages and recovered: true', async () => {
      const socket = await client();
      const { data } = await subscribe(socket, { type: 'item', id: 'quiet' });
      const again = await subscribe(socket, { type: 'item', id: 'quiet' }, data);
      expect(again.data).toEqual({ ...data, recovered: true });
    });

    test('a position from another epoch is not recoverable: the reply says so, and nothing is sent', async () => {
      const socket = await client();
      const reply = await subscribe(
        socket,
        { type: 'item', id: 'elsewhere' },
        { epoch: 'gone-epoch', seq: 3 },
      );
      expect(reply.data).toEqual({
        group: 'item-elsewhere',
        epoch: expect.any(String),
        seq: 0,
        recovered: false,
      });
      expect(reply.data.epoch).not.toBe('gone-epoch');
    });

    test.each([
      [{ epoch: 5, seq: 1 }],
      [{ epoch: 'e', seq: -1 }],
      [{ epoch: 'e', seq: 1.5 }],
      [{ epoch: 'e' }],
      ['e:1'],
    ])('since %j is refused with an error that says what to send', async (since) => {
      const socket = await client();
      const reply = await socket.askJson({
        id: 'bad',
        type: 'subscribe',
        data: { type: 'item', id: 'x' },
        since,
      });
      expect(reply).toEqual({
        id: 'bad',
        type: 'subscribe',
        error:
          'Field \'since\' must be {"epoch": "<epoch>", "seq": <seq>}, as the last subscribe reply or subscription-update of the group gave them.',
      });
    });
  });

  test('a message sent after its handler finished is delivered, and logged as an error', async () => {
    const socket = await client();
    expect(await socket.askJson({ id: 'l', type: 'late' })).toEqual({ id: 'l', type: 'late' });
    expect(await socket.nextJson()).toEqual({
      id: expect.any(Number),
      type: 'late',
      data: 'after the reply',
    });
    await eventually(() =>
      reporter.lines.some(
        (line) =>
          line.startsWith('output websocket stderr ') &&
          line.includes('A message was sent after its handler had finished'),
      ),
    );
  });
});
