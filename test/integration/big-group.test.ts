import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { defineConfig } from '../../lambdas/rohrpost/config';
import { MembershipTable } from '../../lambdas/rohrpost/storage/membership-table';
import { fixtureConfig } from '../fixtures/app/config';
import { useFixtureSandbox } from '../support/fixture-sandbox';
import { eventually } from '../support/recording-reporter';
import { TestSocket } from '../support/socket';

const CLIENTS = 2_000;
const CHANGES = 24;
const GROUP = 'board-big';

/** Lanes at a small scale: a group gets them past 50 members, and a shard splits past 200. */
const config = defineConfig({
  websocket: fixtureConfig.websocket,
  tables: fixtureConfig.tables,
  notifications: {
    ...fixtureConfig.notifications,
    lanes: { groupSize: 50, shardSize: 200, concurrency: 4, postsPerSecond: 100_000 },
  },
});

interface Update {
  readonly id: number;
  readonly data: { readonly seq: number; readonly object: { readonly title: string } };
}

/**
 * A big group through the sandbox with real WebSocket clients: its changes written straight to
 * DynamoDB Local go through the stream function, then the lanes' FIFO queue and the lane
 * workers, while the group's shards split.
 */
describe('a group of a few thousand members, delivered by lanes', () => {
  const fixture = useFixtureSandbox({ config, limits: { newConnectionsPerSecond: Infinity } });
  const clients: Array<{ socket: TestSocket; since: number }> = [];

  beforeAll(async () => {
    const sockets = await Promise.all(
      Array.from({ length: CLIENTS }, () => TestSocket.open(fixture.sandbox.websocketUrl)),
    );
    for (const [i, socket] of sockets.entries()) {
      const reply = await socket.askJson<{ data: { seq: number } }>({
        id: i,
        type: 'subscribe',
        data: GROUP,
      });
      clients.push({ socket, since: reply.data.seq });
    }
  });
  afterAll(async () => {
    await Promise.all(clients.map(({ socket }) => socket.close()));
  });

  const updatesOf = (socket: TestSocket) =>
    socket.received
      .map((text) => JSON.parse(text) as Update & { type: string })
      .filter((message) => message.type === 'subscription-update');

  test('every client gets every change once, in order, while the group gets lanes and splits', async () => {
    for (let i = 1; i <= CHANGES; i++) {
      await fixture.db.send(
        new PutCommand({
          TableName: fixture.table('cards'),
          Item: { id: `card-${i}`, board: 'big', title: `change ${i}` },
        }),
      );
      // Changes a little apart, so that the group gets its lanes and splits between them.
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const top = clients[0]!.since + CHANGES;
    // However long the machine takes, what is awaited is the last change reaching everyone.
    await eventually(() =>
      clients.every(({ socket }) => updatesOf(socket).some((update) => update.data.seq === top)),
    ).catch((error: Error) => {
      const behind = clients.filter(
        ({ socket }) => !updatesOf(socket).some((update) => update.data.seq === top),
      );
      const lanes = fixture.reporter.lines.filter((line) =>
        /^queue|functionFailed|output lanes stderr/.test(line),
      );
      throw new Error(
        `${error.message}: ${behind.length} clients lack seq ${top}; the lanes said:\n${lanes.slice(-40).join('\n')}`,
      );
    });
    for (const { socket, since } of clients) {
      const updates = updatesOf(socket);
      const seqs = updates.map((update) => update.data.seq);
      // Retries may repeat a message (same id and seq); never reorder, never skip.
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      const unique = [...new Set(seqs)];
      expect(unique).toEqual(Array.from({ length: CHANGES }, (_, i) => since + i + 1));
      const titles = updates
        .filter((update, i) => seqs.indexOf(update.data.seq) === i)
        .map((u) => u.data.object.title);
      expect(titles).toEqual(Array.from({ length: CHANGES }, (_, i) => `change ${i + 1}`));
    }
    // The first message went out inline; the lanes sent the rest, over shards that split meanwhile.
    const { Item: layout } = await fixture.db.send(
      new GetCommand({
        TableName: fixture.table('membership'),
        Key: {
          [MembershipTable.groupAttribute]: GROUP,
          [MembershipTable.connectionAttribute]: MembershipTable.layoutKey,
        },
      }),
    );
    expect(layout?.shards).toBeGreaterThanOrEqual(4);
    expect(fixture.reporter.lines.some((line) => line.startsWith('queueDelivered rohrpost-lanes.fifo'))).toBe(
      true,
    );
  });
});
