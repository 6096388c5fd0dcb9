import { GetCommand } from '@aws-sdk/lib-dynamodb';
import {
  DynamoDbMembershipStore,
  MEMBERSHIP_LIFETIME_SECONDS,
} from '../../lambdas/rohrpost/storage/membership';
import { countingDocumentClient, createMembershipTable } from '../support/dynamodb';

/** The membership store against DynamoDB Local, counting the requests each operation costs. */
describe('DynamoDbMembershipStore', () => {
  let tableName: string;
  const { client, commands } = countingDocumentClient();
  // The real clock: DynamoDB Local deletes items whose TTL has passed, as DynamoDB does.
  const startedAt = Date.now();
  const now = () => startedAt;
  let store: DynamoDbMembershipStore;

  beforeAll(async () => {
    tableName = await createMembershipTable();
    store = new DynamoDbMembershipStore(client, tableName, { now, firstPageSize: 2, pageSize: 2 });
  });
  afterAll(() => client.destroy());
  beforeEach(() => {
    commands.length = 0;
  });

  async function all(group: string): Promise<string[]> {
    const members: string[] = [];
    for await (const page of store.members(group)) members.push(...page);
    return members.sort();
  }

  test('join is one write, idempotent, and carries a TTL past the longest connection', async () => {
    await store.join('room-1', 'c1=');
    await store.join('room-1', 'c1=');
    expect(commands).toEqual(['PutItemCommand', 'PutItemCommand']);
    expect(await all('room-1')).toEqual(['c1=']);
    const { Item } = await client.send(
      new GetCommand({ TableName: tableName, Key: { group: 'room-1', connectionId: 'c1=' } }),
    );
    expect(Item?.expiresAt).toBe(Math.floor(startedAt / 1000) + MEMBERSHIP_LIFETIME_SECONDS);
    expect(MEMBERSHIP_LIFETIME_SECONDS).toBeGreaterThan(2 * 60 * 60);
  });

  test('leave is one write and idempotent', async () => {
    await store.join('room-2', 'c1=');
    commands.length = 0;
    await store.leave('room-2', 'c1=');
    await store.leave('room-2', 'c1=');
    expect(commands).toEqual(['DeleteItemCommand', 'DeleteItemCommand']);
    expect(await all('room-2')).toEqual([]);
  });

  test("a group's members come page by page from Queries, never a Scan", async () => {
    const members = ['m1', 'm2', 'm3', 'm4', 'm5'];
    await Promise.all(members.map((member) => store.join('big', member)));
    commands.length = 0;
    const pages: string[][] = [];
    for await (const page of store.members('big')) pages.push(page);
    expect(pages.flat().sort()).toEqual(members);
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(new Set(commands)).toEqual(new Set(['QueryCommand']));
  });

  test('the first page is small, so that posting starts early; later pages are larger', async () => {
    const members = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
    await Promise.all(members.map((member) => store.join('paged', member)));
    const paged = new DynamoDbMembershipStore(client, tableName, { now, firstPageSize: 1, pageSize: 4 });
    const pages: string[][] = [];
    for await (const page of paged.members('paged')) pages.push(page);
    expect(pages).toEqual([['p1'], ['p2', 'p3', 'p4', 'p5'], ['p6']]);
  });

  test('expired memberships DynamoDB has not deleted yet are not members', async () => {
    const past = new DynamoDbMembershipStore(client, tableName, { now: () => now() - 4 * 60 * 60 * 1000 });
    await past.join('room-3', 'stale');
    await store.join('room-3', 'fresh');
    expect(await all('room-3')).toEqual(['fresh']);
  });

  test('leaveAll removes a connection from every group: one Query and batched deletes', async () => {
    const groups = Array.from({ length: 30 }, (_, i) => `g-${String(i).padStart(2, '0')}`);
    await Promise.all(groups.map((group) => store.join(group, 'leaver')));
    await store.join('g-00', 'stayer');
    commands.length = 0;
    expect((await store.leaveAll('leaver')).sort()).toEqual(groups);
    expect(commands).toEqual(['QueryCommand', 'BatchWriteItemCommand', 'BatchWriteItemCommand']);
    for (const group of groups.slice(0, 3))
      expect(await all(group)).toEqual(group === 'g-00' ? ['stayer'] : []);
    expect(await store.leaveAll('leaver')).toEqual([]);
  });

  test.each([[''], ['x'.repeat(1025)], [42 as unknown as string]])(
    'refuses the group name %j',
    async (group) => {
      await expect(store.join(group, 'c')).rejects.toThrow(TypeError);
    },
  );
});
