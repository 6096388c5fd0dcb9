import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import WebSocket from 'ws';
import type { Subscription, Update } from '../../client/src';
import { RohrpostClient } from '../../client/src';
import { defineConfig } from '../../lambdas/rohrpost/config';
import { MembershipTable } from '../../lambdas/rohrpost/storage/membership-table';
import { fixtureConfig } from '../fixtures/app/config';
import { useFixtureSandbox } from '../support/fixture-sandbox';
import { WAIT_GUARD_MS } from '../support/hang-guard';

const CLIENTS = 1_000;
/** Changes written at least, and at most while waiting for the group to split and everyone to catch up. */
const MIN_CHANGES = 24;
const MAX_CHANGES = 240;
const GROUP = 'board-big';

/** Lanes at a small scale: a group gets them past 50 members, and a shard splits past 100. */
const config = defineConfig({
  websocket: fixtureConfig.websocket,
  tables: fixtureConfig.tables,
  notifications: {
    ...fixtureConfig.notifications,
    lanes: { groupSize: 50, shardSize: 100, concurrency: 4, postsPerSecond: 100_000 },
  },
});

/** How long deliveries stand still before the test takes them to be over: a pause, not a deadline. */
const STILL_MS = 10_000;

/**
 * Waits until `predicate` holds (true) or `progress`, a count of what is done, has stood still
 * for STILL_MS (false).
 */
async function settles(predicate: () => boolean, progress: () => number): Promise<boolean> {
  let seen = progress();
  let movedAt = Date.now();
  while (!predicate()) {
    const done = progress();
    if (done !== seen) [seen, movedAt] = [done, Date.now()];
    else if (Date.now() - movedAt > STILL_MS) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

interface Card {
  readonly title: string;
}

/** One client of the group, as an application holds it: what it applied, and where it started. */
interface Member {
  readonly client: RohrpostClient;
  readonly subscription: Subscription<Card>;
  readonly updates: Array<Update<Card>>;
  readonly since: number;
}

/**
 * A big group through the sandbox with real WebSocket clients (the project's client, which
 * applies a group's messages in seq order and recovers a gap with `since`): its changes written
 * straight to DynamoDB Local go through the stream function, then the lanes' FIFO queue and the
 * lane workers, while the group's shards split. The order the lanes keep on their own is
 * checked where each post can be watched (lanes.test.ts, bench:large-group).
 */
describe('a group of a thousand members, delivered by lanes', () => {
  const fixture = useFixtureSandbox({ config, limits: { newConnectionsPerSecond: Infinity } });
  const members: Member[] = [];

  beforeAll(async () => {
    const joining = Array.from({ length: CLIENTS }, async () => {
      const client = new RohrpostClient({
        url: fixture.sandbox.websocketUrl,
        WebSocket,
        callTimeoutMs: WAIT_GUARD_MS,
      });
      const subscription = client.subscribe<Card>(GROUP);
      const updates: Array<Update<Card>> = [];
      subscription.on('update', (update) => updates.push(update));
      const since = await new Promise<number>((resolve) => {
        const off = subscription.on('subscribed', ({ position }) => (off(), resolve(position!.seq)));
      });
      return { client, subscription, updates, since };
    });
    members.push(...(await Promise.all(joining)));
  });
  afterAll(() => {
    for (const { client } of members) client.close();
  });

  /** The group's shard layout, as the lanes keep it beside its members. */
  const layout = async () =>
    (
      await fixture.db.send(
        new GetCommand({
          TableName: fixture.table('membership'),
          Key: {
            [MembershipTable.groupAttribute]: GROUP,
            [MembershipTable.connectionAttribute]: MembershipTable.layoutKey,
          },
        }),
      )
    ).Item;

  const writeChange = (n: number) =>
    fixture.db.send(
      new PutCommand({
        TableName: fixture.table('cards'),
        Item: { id: `card-${n}`, board: 'big', title: `change ${n}` },
      }),
    );

  test('every client gets every change once, in order, while the group gets lanes and splits', async () => {
    // Changes a little apart, so that the group gets its lanes and splits between them: at least
    // MIN_CHANGES, and on until it has split, however long the machine takes. (It goes on
    // splitting while its shards are over their size; a split that waits for lanes still sending
    // earlier messages is lanes.test.ts's.)
    let changes = 0;
    while (changes < MIN_CHANGES || ((await layout())?.shards ?? 0) < 2) {
      if (changes === MAX_CHANGES) {
        throw new Error(
          `The group did not split in ${MAX_CHANGES} changes: ${JSON.stringify(await layout())}`,
        );
      }
      changes++;
      await writeChange(changes);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    // However long the machine takes, what is awaited is the last change reaching everyone. A
    // member whose post still failed after the lane's tries is left behind, and its client
    // recovers at the group's next message, where the gap shows: when deliveries stand still
    // short of that, another change is written.
    const progress = () => members.reduce((sum, { updates }) => sum + updates.length, 0);
    for (;;) {
      const top = members[0]!.since + changes;
      const reached = () => members.every(({ updates }) => updates.at(-1)?.seq === top);
      if (await settles(reached, progress)) break;
      if (changes === MAX_CHANGES) {
        const behind = members.filter(({ updates }) => updates.at(-1)?.seq !== top);
        const lanes = fixture.reporter.lines.filter((line) =>
          /^queue|functionFailed|output lanes stderr/.test(line),
        );
        throw new Error(
          `${behind.length} clients lack seq ${top} after ${changes} changes; the lanes said:\n${lanes.slice(-40).join('\n')}`,
        );
      }
      changes++;
      await writeChange(changes);
    }
    for (const { updates, since } of members) {
      expect(updates.map((update) => update.seq)).toEqual(
        Array.from({ length: changes }, (_, i) => since + i + 1),
      );
      expect(updates.map((update) => update.object.title)).toEqual(
        Array.from({ length: changes }, (_, i) => `change ${i + 1}`),
      );
    }
    // The group's first messages went out inline, the rest by lanes.
    expect((await layout())?.inlineUntil).toBeLessThan(members[0]!.since + changes);
    expect(fixture.reporter.lines.some((line) => line.startsWith('queueDelivered rohrpost-lanes.fifo'))).toBe(
      true,
    );
  });
});
