import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { HistoryKeys } from '../../lambdas/rohrpost/storage/history-table';
import type { Sandbox } from '../../sandbox/sandbox';
import { startSandbox } from '../../sandbox/sandbox';
import { fixtureConfig } from '../fixtures/app/config';
import { WAIT_GUARD_MS } from '../support/hang-guard';
import { RecoveringSubscriber } from '../support/recovering-subscriber';

const CLIENTS = 20;
const CHANGES = 1_000;
const ITEMS = 50;
const BOARDS = 5;
const WRITERS = 10;
/** The sandbox closes every connection at this age, as API Gateway does at 2 hours. */
const MAX_CONNECTION_MS = 8_000;
/**
 * While changes are written, each client is dropped once in this many changes, at random: as much
 * chaos on a busy machine as on an idle one, where a time would drop clients more the slower it is.
 */
const DROP_EVERY_CHANGES = [150, 400] as const;
/** Each writer pauses up to this long between changes, at random. */
const WRITE_PAUSE_MS = 80;
/**
 * A subscribe without a reply this long is sent again: API Gateway has given up on it by then
 * (29 s) and will never answer. Sooner, a busy machine's slow replies would only be asked for again.
 */
const REPLY_TIMEOUT_MS = 30_000;

/** A seeded generator, so that a failing run can be repeated: `CHAOS_SEED=<seed> npx jest chaos`. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * Clients that drop and come back at random while 1,000 changes over 50 items in several
 * groups happen: every client must end up with every message of its groups exactly once, in
 * seq order, the very messages the history holds, recovering what it missed by `since`.
 */
describe('chaos: clients that keep dropping never miss an update', () => {
  let sandbox: Sandbox;
  let db: DynamoDBDocumentClient;
  let management: ApiGatewayManagementApiClient;
  const clients: RecoveringSubscriber[] = [];
  const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
  const next = random(seed);
  const pick = <T>(values: readonly T[]) => values[Math.floor(next() * values.length)]!;

  beforeAll(async () => {
    sandbox = await startSandbox({
      // Two cores run DynamoDB Local, the sandbox and the clients: stream batches the default size,
      // and a board's history holds what a client can miss while the machine is that busy (a
      // board hears of 60 changes a second).
      config: {
        ...fixtureConfig,
        notifications: {
          ...fixtureConfig.notifications,
          batchSize: 100,
          history: { ...fixtureConfig.notifications.history!, maxMessages: 1_000 },
        },
      },
      port: 0,
      // Its own DynamoDB Local, stopped with it: the thousands of items it writes would slow the
      // TTL sweeps that other tests wait for.
      dynamodb: {},
      limits: { maxConnectionMs: MAX_CONNECTION_MS },
    });
    db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: sandbox.dynamodbEndpoint }));
    management = new ApiGatewayManagementApiClient({ endpoint: sandbox.managementEndpoint });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.stop()));
    db?.destroy();
    management?.destroy();
    await sandbox?.stop();
  });

  test('every client holds every message of its groups exactly once, in seq order', async () => {
    const items = Array.from({ length: ITEMS }, (_, i) => `c${i}`);
    const boards = Array.from({ length: BOARDS }, (_, i) => `b${i}`);
    for (let i = 0; i < CLIENTS; i++) {
      const groups = new Set<string>();
      while (groups.size < 2) groups.add(`board-${pick(boards)}`);
      while (groups.size < 4) groups.add(`card-${pick(items)}`);
      clients.push(
        new RecoveringSubscriber(
          sandbox.websocketUrl,
          [...groups],
          () => Math.floor(next() * 100),
          REPLY_TIMEOUT_MS,
        ),
      );
    }
    await Promise.all(clients.map((client) => client.start()));

    const drops = { abrupt: 0, server: 0 };
    let writing = true;
    let written = 0;
    const dropAfter = () => DROP_EVERY_CHANGES[0] + next() * (DROP_EVERY_CHANGES[1] - DROP_EVERY_CHANGES[0]);
    const chaos = clients.map(async (client) => {
      for (let dropAt = dropAfter(); writing;) {
        await sleep(20);
        if (written < dropAt) continue;
        dropAt = written + dropAfter();
        if (!client.settled || !writing) continue;
        if (next() < 0.5) {
          drops.abrupt++;
          client.dropAbruptly();
        } else {
          drops.server++;
          const connectionId = await client.connectionId().catch(() => undefined);
          if (connectionId) {
            await management
              .send(new DeleteConnectionCommand({ ConnectionId: connectionId }))
              .catch(() => undefined);
          }
        }
      }
    });

    const table = sandbox.tableNames.cards!;
    const changes = { put: 0, delete: 0 };
    const writers = Array.from({ length: WRITERS }, async () => {
      while (written < CHANGES) {
        written++;
        const id = pick(items);
        if (next() < 0.1) {
          changes.delete++;
          await db.send(new DeleteCommand({ TableName: table, Key: { id } }));
        } else {
          changes.put++;
          await db.send(
            new PutCommand({ TableName: table, Item: { id, board: pick(boards), title: `t${written}` } }),
          );
        }
        await sleep(next() * WRITE_PAUSE_MS);
      }
    });
    const started = Date.now();
    await Promise.all(writers);
    const writtenIn = Date.now() - started;
    writing = false;
    await Promise.all(chaos);

    // Done when the groups' heads stand still and every client has reached them, however long a
    // busy machine takes: only a standstill fails, no head and no client moving for a hang guard.
    const groups = [...new Set(clients.flatMap((client) => client.groupNames))];
    let tops = new Map<string, number>();
    let lastMove = { state: '', at: Date.now() };
    for (let stable = 0; stable < 3;) {
      await sleep(300);
      const current = await headsOf(groups);
      const caughtUp = clients.every((client) =>
        client.groupNames.every((group) => client.positionOf(group)?.seq === (current.get(group) ?? 0)),
      );
      stable = caughtUp && sameMap(current, tops) ? stable + 1 : 0;
      tops = current;
      const state = JSON.stringify([
        [...current],
        clients.map((client) => client.groupNames.map((group) => client.positionOf(group)?.seq)),
      ]);
      if (state !== lastMove.state) lastMove = { state, at: Date.now() };
      else if (!caughtUp && Date.now() - lastMove.at > WAIT_GUARD_MS) {
        const behind = clients.flatMap((client, i) =>
          client.groupNames
            .filter((group) => client.positionOf(group)?.seq !== (current.get(group) ?? 0))
            .map(
              (group) => `client ${i}: ${group} at ${client.positionOf(group)?.seq} of ${current.get(group)}`,
            ),
        );
        throw new Error(
          `The clients stopped catching up: nothing moved for ${WAIT_GUARD_MS / 1000} s:\n${behind.slice(0, 10).join('\n')}`,
        );
      }
    }
    await Promise.all(clients.map((client) => client.stop()));

    const history = new Map<string, Map<number, number>>();
    for (const group of groups) history.set(group, await messageIdsOf(group));
    const total = (name: keyof RecoveringSubscriber['stats']) =>
      clients.reduce((sum, client) => sum + client.stats[name], 0);
    const messages = clients.reduce(
      (sum, client) => sum + client.groupNames.reduce((n, group) => n + client.appliedIn(group).length, 0),
      0,
    );
    console.log(
      [
        `chaos (seed ${seed}): ${CHANGES} changes (${changes.put} puts, ${changes.delete} deletes) over ${ITEMS} items, ` +
          `${groups.length} groups, ${CLIENTS} clients: written in ${(writtenIn / 1000).toFixed(1)} s, ` +
          `all delivered after ${((Date.now() - started) / 1000).toFixed(1)} s`,
        `  connections: ${total('connections')} (drops: ${drops.abrupt} abrupt, ${drops.server} by DELETE @connections, ` +
          `the rest at the ${MAX_CONNECTION_MS} ms maximum age)`,
        `  messages held: ${messages}, each exactly once, in seq order`,
        `  resubscribes with since: ${total('resubscribes')}, recovered: ${total('recoveries')} ` +
          `(${total('recoveredMessages')} messages from history), had to refetch: ${total('refetches')}`,
        `  duplicate frames dropped: ${total('duplicates')}, messages that arrived ahead of a gap: ${total('reordered')}, ` +
          `subscribes sent again after ${REPLY_TIMEOUT_MS / 1000} s without a reply: ${total('timeouts')}`,
      ].join('\n'),
    );
    // Within the retention no client has to refetch: each recovers what it missed.
    expect(total('refetches')).toBe(0);
    for (const client of clients) {
      expect(client.problems).toEqual([]);
      for (const group of client.groupNames) {
        const applied = client.appliedIn(group);
        // Exactly once, in seq order, from where the client started to the group's last message...
        expect(applied.map((message) => message.seq)).toEqual(
          range(client.startOf(group)!.seq + 1, tops.get(group) ?? 0),
        );
        // ...and the very messages the history holds, in one epoch.
        expect(applied.map((message) => message.id)).toEqual(
          applied.map((message) => history.get(group)!.get(message.seq)),
        );
        expect(new Set(applied.map((message) => message.epoch)).size).toBeLessThanOrEqual(1);
      }
    }

    expect(total('resubscribes')).toBeGreaterThan(CLIENTS * 5);
    expect(total('recoveredMessages')).toBeGreaterThan(0);
    // Twice the guard of other tests (TEST_GUARD_MS), a guard only: a standstill fails above
    // within WAIT_GUARD_MS, and a busy machine may take minutes.
  }, 600_000);

  async function headsOf(groups: readonly string[]): Promise<Map<string, number>> {
    const heads = await Promise.all(
      groups.map(async (group) => {
        const { Item } = await db.send(
          new GetCommand({
            TableName: sandbox.historyTable!,
            Key: { group, key: HistoryKeys.head },
            ConsistentRead: true,
          }),
        );
        return [group, (Item?.top as number | undefined) ?? 0] as const;
      }),
    );
    return new Map(heads);
  }

  /** The id of each message the history holds for the group, by seq. */
  async function messageIdsOf(group: string): Promise<Map<number, number>> {
    const ids = new Map<number, number>();
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await db.send(
        new QueryCommand({
          TableName: sandbox.historyTable!,
          KeyConditionExpression: '#g = :g AND begins_with(#k, :m)',
          ExpressionAttributeNames: { '#g': 'group', '#k': 'key' },
          ExpressionAttributeValues: { ':g': group, ':m': 'm#' },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? [])
        ids.set(item.seq as number, (JSON.parse(item.payload as string) as { id: number }).id);
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return ids;
  }
});

function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

function sameMap(a: Map<string, number>, b: Map<string, number>): boolean {
  return a.size === b.size && [...a].every(([key, value]) => b.get(key) === value);
}
