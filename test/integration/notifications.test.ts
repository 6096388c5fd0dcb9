import { DeleteCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { MembershipTable } from '../../lambdas/rohrpost/storage/membership-table';
import { functionLetters, letterFor } from '../support/dead-letters';
import { useFixtureSandbox } from '../support/fixture-sandbox';
import { eventually } from '../support/recording-reporter';
import type { TestSocket } from '../support/socket';
import type { Update } from '../support/updates';
import { changeIn } from '../support/updates';

/**
 * Change notifications end to end: writes to real DynamoDB Local tables, their real stream
 * records, the notification function in the sandbox, the management API answering like API
 * Gateway, and what the WebSocket clients receive.
 */
describe('change notifications in the sandbox', () => {
  const fixture = useFixtureSandbox();
  const { reporter, table, put, client } = fixture;

  async function subscribed(group: unknown): Promise<TestSocket> {
    const socket = await client();
    const reply = await socket.askJson<{ data: { group: string } }>({
      id: 's',
      type: 'subscribe',
      data: group,
    });
    expect(reply).toEqual({
      id: 's',
      type: 'subscribe',
      data: { group: expect.any(String), epoch: expect.any(String), seq: expect.any(Number) },
    });
    return socket;
  }

  const nextUpdate = (socket: TestSocket) => socket.nextJson<Update>();

  /** How many records of a table the sandbox has handed to the notification function. */
  const streamRecords = (tableName: string) =>
    reporter.lines
      .filter((line) => line.startsWith(`streamDelivered ${tableName} `))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);

  async function connectionIdOf(socket: TestSocket): Promise<string> {
    return (await socket.askJson<{ data: { connectionId: string } }>({ id: 'w', type: 'whoami' })).data
      .connectionId;
  }

  async function membershipsOf(connectionId: string): Promise<string[]> {
    const { Items } = await fixture.db.send(
      new QueryCommand({
        TableName: table('membership'),
        IndexName: MembershipTable.connectionIndex,
        KeyConditionExpression: 'connectionId = :c',
        ExpressionAttributeValues: { ':c': connectionId },
      }),
    );
    return (Items ?? []).map((item) => item.group as string).sort();
  }

  test('subscribe and unsubscribe answer as the rohrpost-js client expects, plus the position', async () => {
    const socket = await client();
    expect(
      await socket.ask({ id: 1, type: 'subscribe', auth_jwt: 'x', data: { type: 'item', id: 'a' } }),
    ).toMatch(/^\{"id":1,"type":"subscribe","data":\{"group":"item-a","epoch":"[\w-]{8}","seq":0\}\}$/);
    expect(
      await socket.ask({ id: 2, type: 'unsubscribe', auth_jwt: 'x', data: { type: 'item', id: 'a' } }),
    ).toBe('{"id":2,"type":"unsubscribe","data":{"group":"item-a"}}');
  });

  test("create, update and delete reach exactly the group's members", async () => {
    const [first, second] = [
      await subscribed({ type: 'item', id: 'x' }),
      await subscribed({ type: 'item', id: 'x' }),
    ];
    const elsewhere = await subscribed({ type: 'item', id: 'other' });
    const bystander = await client();

    await put('items', { id: 'x', name: 'first' });
    const [firstCreate, secondCreate] = [await nextUpdate(first), await nextUpdate(second)];
    expect(firstCreate).toEqual({
      id: expect.any(Number),
      type: 'subscription-update',
      data: {
        group: 'item-x',
        type: 'create',
        object: { id: 'x', name: 'first' },
        seq: 1,
        epoch: expect.any(String),
      },
    });
    expect(secondCreate).toEqual(firstCreate);
    await fixture.db.send(
      new UpdateCommand({
        TableName: table('items'),
        Key: { id: 'x' },
        UpdateExpression: 'SET #n = :n',
        ExpressionAttributeNames: { '#n': 'name' },
        ExpressionAttributeValues: { ':n': 'second' },
      }),
    );
    const update = await nextUpdate(first);
    expect(update.data).toEqual({
      group: 'item-x',
      type: 'update',
      object: { id: 'x', name: 'second', updated_fields: ['name'] },
      seq: 2,
      epoch: firstCreate.data.epoch,
    });
    expect(await nextUpdate(second)).toEqual(update);
    await fixture.db.send(new DeleteCommand({ TableName: table('items'), Key: { id: 'x' } }));
    expect((await nextUpdate(first)).data).toEqual({
      group: 'item-x',
      type: 'delete',
      object: { id: 'x', name: 'second' },
      seq: 3,
      epoch: firstCreate.data.epoch,
    });

    // Later in the same stream: once it arrives, everything before it was handled.
    await put('items', { id: 'other', name: 'sentinel' });
    expect((await nextUpdate(elsewhere)).data.group).toBe('item-other');
    expect(elsewhere.received).toHaveLength(2); // the subscribe reply and the sentinel
    expect(bystander.received).toEqual([]);
  });

  test('with alwaysSend off, an update that changes none of the object sends nothing', async () => {
    const member = await subscribed({ type: 'item', id: 'quiet' });
    await put('items', { id: 'quiet', name: 'n' });
    expect((await nextUpdate(member)).data.type).toBe('create');
    await put('items', { id: 'quiet', name: 'n', unrelated: 1 });
    await put('items', { id: 'quiet', name: 'renamed', unrelated: 1 });
    expect((await nextUpdate(member)).data.object).toEqual({
      id: 'quiet',
      name: 'renamed',
      updated_fields: ['name'],
    });
  });

  test('the defaults: <label>-<keys> as the group, the key attributes as the object', async () => {
    const member = await subscribed('events-orders-7');
    await put('events', { stream: 'orders', seq: 7, payload: { total: 12.5 } });
    expect(changeIn(await nextUpdate(member))).toEqual({
      group: 'events-orders-7',
      type: 'create',
      object: { stream: 'orders', seq: 7 },
    });
  });

  test('a gone member is removed from all its groups while the others still receive', async () => {
    const member = await subscribed({ type: 'item', id: 'y' });
    const expiresAt = Math.floor(Date.now() / 1000) + 3600;
    for (const group of ['item-y', 'item-z']) {
      await fixture.db.send(
        new PutCommand({
          TableName: table('membership'),
          Item: { group, connectionId: 'gone-connection=', expiresAt },
        }),
      );
    }
    await put('items', { id: 'y', name: 'hello' });
    expect((await nextUpdate(member)).data.object).toEqual({ id: 'y', name: 'hello' });
    await eventually(() =>
      reporter.lines.some((line) => line.includes('Removed a gone connection from its groups')),
    );
    expect(await membershipsOf('gone-connection=')).toEqual([]);
  });

  test('a poison record is retried, then dead-lettered, and the records around it are delivered', async () => {
    const member = await subscribed('hooked-all');
    await fixture.db.send(new PutCommand({ TableName: table('hooked'), Item: { id: 'before' } }));
    await fixture.db.send(new PutCommand({ TableName: table('hooked'), Item: { id: 'bad', poison: true } }));
    await fixture.db.send(new PutCommand({ TableName: table('hooked'), Item: { id: 'after' } }));
    const delivered = [await nextUpdate(member), await nextUpdate(member)].map(
      (update) => update.data.object,
    );
    // Different items are notified in parallel: only each item's own changes keep their order.
    expect(delivered).toEqual(
      expect.arrayContaining([
        { id: 'before', via: 'hook' },
        { id: 'after', via: 'hook' },
      ]),
    );
    await eventually(() => letterFor(fixture.sandbox, 'bad') !== undefined);
    expect(
      reporter.lines.filter((line) => line.startsWith(`streamRetrying ${table('hooked')}`)),
    ).toHaveLength(2);
    expect(functionLetters(fixture.sandbox).filter((letter) => letter.table === 'hooked')).toHaveLength(1);

    // The failed attempts show in the metrics, as CloudWatch would add them up, before any dead letter.
    const metrics = fixture.sandbox.metrics.snapshot();
    expect(metrics.RecordsFailed?.sum).toBeGreaterThanOrEqual(2);
    expect(metrics.FirstPostLatency).toMatchObject({ unit: 'Milliseconds', p50: expect.any(Number) });
    expect(metrics.LastPostLatency).toMatchObject({ unit: 'Milliseconds', p50: expect.any(Number) });
    const served = await fetch(`${new URL(fixture.sandbox.managementEndpoint).origin}/.sandbox/metrics`);
    expect(((await served.json()) as typeof metrics).RecordsFailed?.sum).toBe(metrics.RecordsFailed?.sum);
  });

  test('throttled posts (429) are retried with backoff and delivered', async () => {
    const member = await subscribed({ type: 'item', id: 'throttled' });
    fixture.sandbox.gateway.injectPostFailures(429, 429);
    await put('items', { id: 'throttled', name: 'eventually' });
    expect((await nextUpdate(member)).data.object).toEqual({ id: 'throttled', name: 'eventually' });
    expect(fixture.sandbox.gateway.pendingPostFailures).toBe(0);
  });

  test('a notification over 128 KB is sent with the keys only, and logged', async () => {
    const member = await subscribed({ type: 'item', id: 'huge' });
    await put('items', { id: 'huge', name: 'big one', big: 'x'.repeat(140 * 1024) });
    expect(changeIn(await nextUpdate(member))).toEqual({
      group: 'item-huge',
      type: 'create',
      object: { id: 'huge' },
    });
    expect(reporter.lines.some((line) => line.includes('Notification over the payload limit'))).toBe(true);
  });

  test('closing a connection removes it from every group', async () => {
    const socket = await client();
    const connectionId = await connectionIdOf(socket);
    await socket.ask({ id: 1, type: 'subscribe', data: { type: 'item', id: 'p' } });
    await socket.ask({ id: 2, type: 'subscribe', data: { type: 'item', id: 'q' } });
    expect(await membershipsOf(connectionId)).toEqual(['item-p', 'item-q']);
    await socket.close();
    await eventually(() =>
      reporter.lines.some((line) => line.startsWith(`invoked $disconnect ${connectionId}`)),
    );
    expect(await membershipsOf(connectionId)).toEqual([]);
  });

  test("expired memberships disappear, as DynamoDB's TTL deletes them", async () => {
    const now = Math.floor(Date.now() / 1000);
    const item = (connectionId: string, expiresAt: number) => ({
      group: 'ttl-room',
      connectionId,
      expiresAt,
    });
    await fixture.db.send(
      new PutCommand({ TableName: table('membership'), Item: item('expired=', now - 10) }),
    );
    await fixture.db.send(
      new PutCommand({ TableName: table('membership'), Item: item('current=', now + 3600) }),
    );
    await eventually(async () => (await membershipsOf('expired=')).length === 0, { pollMs: 200 });
    expect(await membershipsOf('current=')).toEqual(['ttl-room']);
  });

  test('an item that expires is announced as a deletion, unless its table skips expiries', async () => {
    const [loud, quiet] = [
      await subscribed({ type: 'expiring', id: 'e1' }),
      await subscribed({ type: 'quiet', id: 'q1' }),
    ];
    const expiresAt = Math.floor(Date.now() / 1000) - 10;
    await put('expiring', { id: 'e1', expiresAt });
    await put('expiring-quietly', { id: 'q1', expiresAt });
    expect((await nextUpdate(loud)).data.type).toBe('create');
    expect((await nextUpdate(quiet)).data.type).toBe('create');
    expect(changeIn(await nextUpdate(loud))).toEqual({
      group: 'expiring-e1',
      type: 'delete',
      object: { id: 'e1' },
    });
    // Both records of the quiet table, the creation and the expiry, reach its notification function...
    await eventually(() => streamRecords(table('expiring-quietly')) === 2);
    // ...and the expiry sends nothing.
    expect(quiet.received).toHaveLength(2);
  });

  test('a handler can send to a group (send_to_group): every member gets the same message', async () => {
    const [sender, other] = [await subscribed('room'), await subscribed('room')];
    const reply = await sender.askJson<{ data: object }>({
      id: 'b',
      type: 'broadcast',
      data: { group: 'room', payload: { text: 'hi' } },
    });
    // The group message and the reply may arrive in either order on the sender's socket.
    const frames = [reply, await sender.nextJson()];
    expect(frames).toContainEqual({
      id: 'b',
      type: 'broadcast',
      data: { members: 2, delivered: 2, gone: 0 },
    });
    const pushed = frames.find((frame) => (frame as { id: unknown }).id !== 'b') as { id: number };
    expect(await other.nextJson()).toEqual({ id: pushed.id, type: 'broadcast', data: { text: 'hi' } });
  });
});
