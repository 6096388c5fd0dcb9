import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManagementApiError, SignedConnections } from '../../lambdas/rohrpost/delivery/signed-connections';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Connections } from '../../lambdas/rohrpost/delivery/connections';
import { ConnectionGoneError } from '../../lambdas/rohrpost/delivery/connections';
import { GoneConnections } from '../../lambdas/rohrpost/delivery/fan-out';
import type { LaneQueue } from '../../lambdas/rohrpost/delivery/lane-queue';
import { Limiter } from '../../lambdas/rohrpost/delivery/limiter';
import { Pacer } from '../../lambdas/rohrpost/delivery/pacer';
import type { HistorySettings } from '../../lambdas/rohrpost/environment';
import type { GroupPosition } from '../../lambdas/rohrpost/protocol/position';
import type { LaneDeliveryOptions } from '../../lambdas/rohrpost/runtime/lane-delivery';
import { LaneWaitingError, runLane } from '../../lambdas/rohrpost/runtime/lane-delivery';
import { groupOperations } from '../../lambdas/rohrpost/runtime/group-operations';
import { splitShards, SplitWaitingError } from '../../lambdas/rohrpost/runtime/shard-splitter';
import { DynamoDbGroupHistory } from '../../lambdas/rohrpost/storage/group-history';
import { historyTableDefinition } from '../../lambdas/rohrpost/storage/history-table';
import { LaneStore, LayoutConflictError } from '../../lambdas/rohrpost/storage/lane-store';
import { DynamoDbMembershipStore } from '../../lambdas/rohrpost/storage/membership';
import { MembershipTable } from '../../lambdas/rohrpost/storage/membership-table';
import { DynamoDbSequencer } from '../../lambdas/rohrpost/storage/sequencer';
import { deliveryOf, shardOf, shardPartition } from '../../lambdas/rohrpost/storage/shard-layout';
import { createTables } from '../../sandbox/tables';
import {
  countingDocumentClient,
  createMembershipTable,
  testDynamoDbEndpoint,
  uniquePrefix,
} from '../support/dynamodb';
import { recordingLogger } from '../support/recording-logger';

/** Connections in memory: what each member received, in order; some members gone or failing. */
class RecordingConnections implements Connections {
  readonly received = new Map<string, string[]>();
  readonly gone = new Set<string>();
  readonly failing = new Set<string>();
  posts = 0;

  post(connectionId: string, payload: string): Promise<void> {
    this.posts++;
    if (this.gone.has(connectionId)) return Promise.reject(new ConnectionGoneError(connectionId));
    if (this.failing.has(connectionId)) return Promise.reject(new Error('503 from the management API'));
    const list = this.received.get(connectionId) ?? [];
    list.push(payload);
    this.received.set(connectionId, list);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The seqs a member received, in the order it received them. */
  seqs(connectionId: string): number[] {
    return (this.received.get(connectionId) ?? []).map(
      (payload) => (JSON.parse(payload) as { seq: number }).seq,
    );
  }
}

/** The lanes' queue in memory: the split requests made. */
class RecordingQueue implements LaneQueue {
  readonly splits: Array<{ group: string; version: number }> = [];
  wake(): Promise<void> {
    return Promise.resolve();
  }
  requestSplit(group: string, version: number): Promise<void> {
    this.splits.push({ group, version });
    return Promise.resolve();
  }
  retryIn(): Promise<void> {
    return Promise.resolve();
  }
}

const connectionIds = (count: number) =>
  Array.from({ length: count }, () => randomBytes(11).toString('base64'));

/** Big groups on the real DynamoDB Local: sharded membership, lanes in order, splits while messages flow. */
describe('lanes of big groups', () => {
  let db: DynamoDBDocumentClient;
  let commands: string[];
  let settings: HistorySettings;
  let membershipTable: string;
  const logger = recordingLogger();

  beforeAll(async () => {
    ({ client: db, commands } = countingDocumentClient());
    const tableName = `${uniquePrefix()}history`;
    await createTables(testDynamoDbEndpoint(), [
      { tableName, definition: historyTableDefinition, stream: false },
    ]);
    membershipTable = await createMembershipTable();
    settings = {
      tableName,
      retentionSeconds: 600,
      maxMessages: 100,
      positionLifetimeSeconds: 3600,
      recordLifetimeSeconds: 1200,
    };
  });
  afterAll(() => db.destroy());

  const membership = () => new DynamoDbMembershipStore(db, membershipTable, { lanes: true });
  const lanes = () => new LaneStore(db, settings, membershipTable);
  const newSequencer = () => new DynamoDbSequencer(db, settings);
  const group = () => `big-${randomUUID()}`;

  /** Places `count` messages in the group's history, as the stream function does; returns their positions. */
  async function place(name: string, count: number, places = newSequencer()): Promise<GroupPosition[]> {
    const positions: GroupPosition[] = [];
    for (let i = 0; i < count; i++) {
      const placed = await places.append(name, randomUUID(), (position) => JSON.stringify(position));
      positions.push(placed.position);
    }
    return positions;
  }

  /** A group given lanes after `placed` messages, with `members` joined: its name and layout. */
  async function groupWithLanes(members: readonly string[], placed = 1) {
    const name = group();
    await place(name, placed);
    const layout = await lanes().createLanes(name);
    await Promise.all(members.map((id) => membership().join(name, id, layout)));
    return { name, layout };
  }

  function laneOptions(
    connections: Connections,
    overrides: Partial<LaneDeliveryOptions> = {},
  ): LaneDeliveryOptions {
    return {
      lanes: lanes(),
      membership: membership(),
      connections,
      queue: new RecordingQueue(),
      pacer: new Pacer({ rate: 1_000_000 }),
      limiter: new Limiter(50),
      goneConnections: new GoneConnections(),
      settings: { shardSize: 10_000, maxShards: 64 },
      logger,
      waitForParentMs: 0,
      ...overrides,
    };
  }

  async function membersOf(name: string): Promise<string[]> {
    const all: string[] = [];
    for await (const page of membership().members(name)) all.push(...page);
    return all.sort();
  }

  test('a group without lanes reads as before: one Query, its members, no layout', async () => {
    const name = group();
    const members = connectionIds(5);
    await Promise.all(members.map((id) => membership().join(name, id)));
    commands.length = 0;
    const found = await membership().readGroup(name);
    expect(found.layout).toBeUndefined();
    const read: string[] = [];
    for await (const page of found.pages!) read.push(...page);
    expect(read.sort()).toEqual([...members].sort());
    expect(commands).toEqual(['QueryCommand']);
  });

  test('giving a group lanes needs its position, and starts its lane after the messages sent so far', async () => {
    const name = group();
    await expect(lanes().createLanes(name)).rejects.toThrow(/has no position/);
    await place(name, 3);
    const [first, second] = await Promise.all([lanes().createLanes(name), lanes().createLanes(name)]);
    // Two writers at once get the one layout.
    expect(second).toEqual(first);
    expect(first).toMatchObject({ shards: 1, previousShards: 0, inlineUntil: 3, splitAt: 3, version: 1 });
    expect(await lanes().watermark(name, 0)).toEqual({ epoch: first.epoch, seq: 3 });
    // The stream function sees it in the first page of members; a joining member with the position.
    expect((await membership().readGroup(name)).layout).toEqual(first);
    expect((await new DynamoDbGroupHistory(db, settings).state(name)).layout).toEqual(first);
    // The layout item is no member.
    expect(await membersOf(name)).toEqual([]);
  });

  test('a lane sends every message after its watermark to its members, each in seq order, then moves the watermark', async () => {
    const members = connectionIds(120);
    const { name } = await groupWithLanes(members, 2);
    const positions = await place(name, 5);
    const connections = new RecordingConnections();
    const wake = { kind: 'deliver' as const, group: name, shard: 0, ...positions.at(-1)! };

    const run = await runLane(wake, laneOptions(connections));
    expect(run).toMatchObject({ messages: 5, leftBehind: 0, missing: 0 });
    for (const id of members) expect(connections.seqs(id)).toEqual([3, 4, 5, 6, 7]);
    expect(await lanes().watermark(name, 0)).toEqual(positions.at(-1));

    // A wake-up for a message already sent (a duplicate, or one overtaken by a later wake-up) sends nothing.
    const again = await runLane({ ...wake, seq: 5 }, laneOptions(connections));
    expect(again.messages).toBe(0);
    expect(connections.posts).toBe(600);
  });

  test('a lane posts to the first page of members while it reads the next; the watermark moves once all are counted', async () => {
    const members = connectionIds(30);
    const { name } = await groupWithLanes(members);
    const [position] = await place(name, 1);
    const events: string[] = [];
    const connections = new RecordingConnections();
    const paged = new DynamoDbMembershipStore(db, membershipTable, {
      lanes: true,
      firstPageSize: 10,
      shardPageSize: 10,
    });
    const shardMembers = paged.shardMembers.bind(paged);
    paged.shardMembers = async function* (...args) {
      for await (const page of shardMembers(...args)) {
        events.push(`page of ${page.length}`);
        yield page;
        // Turns of the event loop for the page's first post to go out, if it is going to.
        for (let turn = 0; turn < 1_000 && connections.posts === 0; turn++) {
          await new Promise((resolve) => setImmediate(resolve));
        }
        events.push(
          `${connections.posts > 0 ? 'posted' : 'nothing posted'}; watermark ${(await lanes().watermark(name, 0))?.seq}`,
        );
      }
    };

    const wake = { kind: 'deliver' as const, group: name, shard: 0, ...position! };
    await runLane(wake, laneOptions(connections, { membership: paged }));
    // The group's own partition holds its layout item too: a first page of 9 members.
    expect(events.slice(0, 2)).toEqual(['page of 9', 'posted; watermark 1']);
    expect(events.length).toBeGreaterThan(4);
    for (const id of members) expect(connections.seqs(id)).toEqual([2]);
    expect(await lanes().watermark(name, 0)).toEqual(position);
  });

  test('a failing member is left behind for the run, a gone one removed from its groups; the others get everything', async () => {
    const [failing, gone, ...others] = connectionIds(12);
    const { name } = await groupWithLanes([failing!, gone!, ...others]);
    await membership().join('other-group', gone!);
    const positions = await place(name, 3);
    const connections = new RecordingConnections();
    connections.failing.add(failing!);
    connections.gone.add(gone!);

    const run = await runLane(
      { kind: 'deliver', group: name, shard: 0, ...positions.at(-1)! },
      laneOptions(connections),
    );
    expect(run.leftBehind).toBe(1);
    expect(run.posts).toMatchObject({ delivered: 30, gone: 1, failed: 1 });
    for (const id of others) expect(connections.seqs(id)).toEqual([2, 3, 4]);
    expect(await membersOf(name)).not.toContain(gone);
    expect(await membersOf('other-group')).not.toContain(gone);
    // The watermark moves on: a dead member does not hold up its lane.
    expect((await lanes().watermark(name, 0))?.seq).toBe(4);
  });

  test('a split copies each member to its new shard once; every member is found exactly once, and leaving leaves every copy', async () => {
    const members = connectionIds(400);
    const { name, layout } = await groupWithLanes(members);
    await splitShards(
      { kind: 'split', group: name, version: layout.version },
      laneOptions(new RecordingConnections()),
    );
    const two = (await membership().layout(name))!;
    expect(two).toMatchObject({ shards: 2, previousShards: 1, splitAt: 1 });
    expect(await membersOf(name)).toEqual([...members].sort());
    const movers = members.filter((id) => shardOf(id, 2) === 1);
    expect(movers.length).toBeGreaterThan(150);
    const inShard1: string[] = [];
    for await (const page of membership().shardMembers(name, 1)) inShard1.push(...page);
    expect(inShard1.sort()).toEqual([...movers].sort());

    // A mover is in both partitions until its copy in shard 0 expires: leaving removes both.
    const mover = movers[0]!;
    await membership().leave(name, mover);
    for (const partition of [shardPartition(name, 0), shardPartition(name, 1)]) {
      const { Item } = await db.send(
        new GetCommand({ TableName: membershipTable, Key: { group: partition, connectionId: mover } }),
      );
      expect(Item).toBeUndefined();
    }
    expect(await membersOf(name)).toEqual(members.filter((id) => id !== mover).sort());

    // A member who joined with the old layout reads the new one with its position and writes itself again.
    const late = connectionIds(40);
    const stale = new DynamoDbMembershipStore(db, membershipTable, { lanes: true });
    await Promise.all(late.map((id) => stale.join(name, id, layout)));
    const state = await new DynamoDbGroupHistory(db, settings).state(name);
    expect(state.layout?.shards).toBe(2);
    await Promise.all(late.map((id) => stale.join(name, id, state.layout)));
    expect(await membersOf(name)).toEqual([...members.filter((id) => id !== mover), ...late].sort());
  });

  test("a split records each shard's members with its lane, each run records them again, and a larger shard's lane goes faster in proportion", async () => {
    const members = connectionIds(400);
    const { name, layout } = await groupWithLanes(members);

    /** A pacer that lets everything through and remembers what each post cost. */
    class CostRecordingPacer extends Pacer {
      readonly costs: number[] = [];
      override take(cost = 1): Promise<void> {
        this.costs.push(cost);
        return Promise.resolve();
      }
    }
    const runLanes = async (shards: number[], seq: GroupPosition) =>
      Promise.all(
        shards.map(async (shard) => {
          const pacer = new CostRecordingPacer({ rate: 1 });
          const connections = new RecordingConnections();
          await runLane({ kind: 'deliver', group: name, shard, ...seq }, laneOptions(connections, { pacer }));
          return { pacer, connections };
        }),
      );
    const sizesRecorded = async () =>
      [...(await lanes().laneMarks(name))].sort(([a], [b]) => a - b).map(([, mark]) => mark.size);

    // One lane: it counts its shard at its first run, and its pace is its share's.
    const [first] = await place(name, 1);
    const [alone] = await runLanes([0], first!);
    expect(new Set(alone!.pacer.costs)).toEqual(new Set([1]));
    expect(await sizesRecorded()).toEqual([{ members: 400, shards: 1 }]);

    await splitShards(
      { kind: 'split', group: name, version: layout.version },
      laneOptions(new RecordingConnections()),
    );
    const own = [0, 1].map((shard) => members.filter((id) => shardOf(id, 2) === shard).length);
    expect(own[0]).not.toBe(own[1]);
    expect(await sizesRecorded()).toEqual(own.map((count) => ({ members: count, shards: 2 })));

    // The first run after the split goes at each shard's pace: its size over the average's.
    const [second] = await place(name, 1);
    const average = (own[0]! + own[1]!) / 2;
    const runs = await runLanes([0, 1], second!);
    for (const [shard, { pacer, connections }] of runs.entries()) {
      expect(connections.posts).toBe(own[shard]);
      expect(new Set(pacer.costs).size).toBe(1);
      expect(pacer.costs[0]).toBeCloseTo(average / own[shard]!, 10);
    }

    // A run counts again: a member who left is no longer counted.
    const leaver = members.find((id) => shardOf(id, 2) === 1)!;
    await membership().leave(name, leaver);
    const [third] = await place(name, 1);
    await runLanes([0, 1], third!);
    expect(await sizesRecorded()).toEqual([
      { members: own[0], shards: 2 },
      { members: own[1]! - 1, shards: 2 },
    ]);
  });

  test('a lane made by a split waits for the lane it came from, and a second split for both lanes to catch up', async () => {
    const members = connectionIds(60);
    const { name, layout } = await groupWithLanes(members);
    const before = await place(name, 2);
    await splitShards(
      { kind: 'split', group: name, version: layout.version },
      laneOptions(new RecordingConnections()),
    );
    const after = await place(name, 2);
    const connections = new RecordingConnections();

    await expect(
      runLane({ kind: 'deliver', group: name, shard: 1, ...after.at(-1)! }, laneOptions(connections)),
    ).rejects.toThrow(LaneWaitingError);
    const split = (await membership().layout(name))!;
    await expect(
      splitShards({ kind: 'split', group: name, version: split.version }, laneOptions(connections)),
    ).rejects.toThrow(SplitWaitingError);

    await runLane({ kind: 'deliver', group: name, shard: 0, ...before.at(-1)! }, laneOptions(connections));
    await runLane({ kind: 'deliver', group: name, shard: 1, ...after.at(-1)! }, laneOptions(connections));
    await runLane({ kind: 'deliver', group: name, shard: 0, ...after.at(-1)! }, laneOptions(connections));
    for (const id of members) expect(connections.seqs(id)).toEqual([2, 3, 4, 5]);
  });

  test('while messages flow and members join, a group splits twice: every member gets every message once, in order', async () => {
    const name = group();
    const members = connectionIds(300);
    const places = newSequencer();
    await place(name, 1, places);
    const layout = await lanes().createLanes(name);
    await Promise.all(members.map((id) => membership().join(name, id, layout)));
    const connections = new RecordingConnections();
    const lanesBy = new Map<number, Promise<unknown>>();
    const failures: unknown[] = [];
    const laneFailed = (error: unknown) => failures.push(error);
    /** Runs a lane as its FIFO message group does: one run at a time, retried while it waits for its parent. */
    const wake = (shard: number, position: GroupPosition) => {
      const previous = lanesBy.get(shard) ?? Promise.resolve();
      const next = previous
        .catch(() => undefined)
        .then(async () => {
          for (;;) {
            try {
              return await runLane(
                { kind: 'deliver', group: name, shard, ...position },
                laneOptions(connections),
              );
            } catch (error) {
              if (!(error instanceof LaneWaitingError)) throw error;
              await new Promise((resolve) => setTimeout(resolve, 5));
            }
          }
        });
      lanesBy.set(shard, next);
      return next;
    };
    const sendOne = async () => {
      const [position] = await place(name, 1, places);
      // As the stream function does: the layout read after the message was placed says which lanes send it.
      const delivery = deliveryOf(await membership().layout(name), position!.epoch, position!.seq);
      if (!delivery.lanes) throw new Error('A message after the lanes began is sent by them.');
      for (let shard = 0; shard < delivery.shards; shard++) wake(shard, position!).catch(laneFailed);
    };
    const splitTwice = async () => {
      for (let i = 0; i < 2; i++) {
        for (;;) {
          const current = (await membership().layout(name))!;
          try {
            await splitShards(
              { kind: 'split', group: name, version: current.version },
              laneOptions(connections),
            );
            break;
          } catch (error) {
            // The worker retries both: lanes still behind the last split, messages moving the head meanwhile.
            if (!(error instanceof SplitWaitingError || error instanceof LayoutConflictError)) throw error;
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        }
      }
    };
    const flow = (async () => {
      for (let i = 0; i < 30; i++) await sendOne();
    })();
    // Members join meanwhile through the websocket function's path, each instance with the layout it last saw.
    const joined = new Map<string, number>();
    const joining = (async () => {
      const instance = membership();
      for (const id of connectionIds(40)) {
        const operations = groupOperations({
          connectionId: id,
          membership: instance,
          history: new DynamoDbGroupHistory(db, settings),
          enqueue: () => undefined,
          fanOut: () => Promise.reject(new Error('not used')),
        });
        const { position } = await operations.join(name);
        joined.set(id, position!.seq);
      }
    })();
    await Promise.all([flow, splitTwice(), joining]);
    const last = (await place(name, 1, places))[0]!;
    const final = (await membership().layout(name))!;
    expect(final.shards).toBe(4);
    await Promise.all(Array.from({ length: final.shards }, (_, shard) => wake(shard, last)));
    await Promise.allSettled(lanesBy.values());
    expect(failures).toEqual([]);

    const expected = Array.from({ length: 31 }, (_, i) => i + 2);
    for (const id of members) {
      const seqs = connections.seqs(id);
      // A retried run may send a message twice (same seq): never out of order, never missing.
      expect(seqs.filter((seq, i) => seqs.indexOf(seq) === i)).toEqual(expected);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    }
    // A member who joined hears every message after the position its subscribe reply gave (one
    // sent meanwhile may come too: its client drops what is not after its position), in order.
    for (const [id, seq] of joined) {
      const seqs = connections.seqs(id);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      expect(seqs.filter((received, i) => received > seq && seqs.indexOf(received) === i)).toEqual(
        expected.filter((n) => n > seq),
      );
    }
    expect(await membersOf(name)).toEqual([...members, ...joined.keys()].sort());
    const item = await db.send(
      new GetCommand({
        TableName: membershipTable,
        Key: { group: name, connectionId: MembershipTable.layoutKey },
      }),
    );
    expect(item.Item?.shards).toBe(4);
  });

  test('a throttled post is paced and tried again, the pace halved; the member is not left behind', async () => {
    const members = connectionIds(10);
    const { name } = await groupWithLanes(members);
    const positions = await place(name, 2);
    const connections = new RecordingConnections();
    let throttle = 5;
    const throttling: Connections = {
      post: (connectionId, payload) =>
        throttle-- > 0
          ? Promise.reject(new ManagementApiError(429, 'LimitExceededException', 'Too Many Requests'))
          : connections.post(connectionId, payload),
      close: () => Promise.resolve(),
    };
    const pacer = new Pacer({ rate: 1_000_000 });
    const throttled = jest.spyOn(pacer, 'throttled');
    const run = await runLane(
      { kind: 'deliver', group: name, shard: 0, ...positions.at(-1)! },
      // The connections tell the pacer of each 429, as SignedConnections' onThrottled does.
      laneOptions(
        {
          post: (id, payload) =>
            throttling.post(id, payload).catch((error: unknown) => {
              pacer.throttled();
              throw error;
            }),
          close: () => Promise.resolve(),
        },
        { pacer },
      ),
    );
    expect(run.leftBehind).toBe(0);
    for (const id of members) expect(connections.seqs(id)).toEqual([2, 3]);
    expect(throttled).toHaveBeenCalledTimes(5);
    expect(pacer.rate).toBeLessThan(1_000_000);
  });

  test('a member that never answers is left behind after the retries; the others and the watermark move on', async () => {
    const [stalled, ...others] = connectionIds(20);
    const { name } = await groupWithLanes([stalled!, ...others]);
    const positions = await place(name, 2);
    const received = new Map<string, number>();
    let stalledRequests = 0;
    const api = createServer((request, response) => {
      const id = decodeURIComponent(request.url!.split('/@connections/')[1]!);
      request.resume();
      if (id === stalled) return void stalledRequests++; // never answers
      received.set(id, (received.get(id) ?? 0) + 1);
      response.writeHead(200).end();
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    try {
      const connections = new SignedConnections(
        `http://127.0.0.1:${(api.address() as AddressInfo).port}/prod`,
        {
          maxAttempts: 3,
          timeoutMs: 300,
          credentials: () => Promise.resolve({ accessKeyId: 'local', secretAccessKey: 'local' }),
        },
      );
      const run = await runLane(
        { kind: 'deliver', group: name, shard: 0, ...positions.at(-1)! },
        laneOptions(connections),
      );
      expect(run.leftBehind).toBe(1);
      expect(run.leftBehindFor).toBe('No answer within 300 ms');
      for (const id of others) expect(received.get(id)).toBe(2);
      expect((await lanes().watermark(name, 0))?.seq).toBe(3);
      // Tried three times for the first message, then left behind: not tried for the second.
      expect(stalledRequests).toBe(3);
    } finally {
      api.closeAllConnections();
      await new Promise((resolve) => api.close(resolve));
    }
  });

  test('a shard over its size asks for a split once per layout', async () => {
    const { name } = await groupWithLanes(connectionIds(30));
    const [position] = await place(name, 1);
    const queue = new RecordingQueue();
    await runLane(
      { kind: 'deliver', group: name, shard: 0, ...position! },
      laneOptions(new RecordingConnections(), { queue, settings: { shardSize: 20, maxShards: 64 } }),
    );
    expect(queue.splits).toEqual([{ group: name, version: 1 }]);
    // At the most shards it may have, a group is not split further.
    const [next] = await place(name, 1);
    await runLane(
      { kind: 'deliver', group: name, shard: 0, ...next! },
      laneOptions(new RecordingConnections(), { queue, settings: { shardSize: 20, maxShards: 1 } }),
    );
    expect(queue.splits).toHaveLength(1);
  });
});
