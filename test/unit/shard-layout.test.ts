import fc from 'fast-check';
import {
  connectionHash,
  covers,
  deliveryOf,
  firstLayout,
  groupOfPartition,
  layoutOf,
  parentLane,
  partitionsOf,
  shardOf,
  shardPartition,
  split,
  splitting,
} from '../../lambdas/rohrpost/storage/shard-layout';

const connectionId = fc.base64String({ minLength: 8, maxLength: 24 });

describe('shard layout', () => {
  test('doubling the shards keeps each member in its shard or moves it to shard + N, never elsewhere', () => {
    fc.assert(
      fc.property(connectionId, fc.integer({ min: 0, max: 6 }), (id, bits) => {
        const shards = 2 ** bits;
        const before = shardOf(id, shards);
        const after = shardOf(id, shards * 2);
        expect([before, before + shards]).toContain(after);
      }),
    );
  });

  test("the hash's low bits spread API Gateway-style ids evenly over 32 shards", () => {
    const counts = new Array<number>(32).fill(0);
    for (let i = 0; i < 32_000; i++) counts[shardOf(`L0SM9cOFvH${i.toString(36)}=`, 32)]!++;
    // 1,000 expected per shard; a standard deviation is about 31.
    expect(Math.min(...counts)).toBeGreaterThan(850);
    expect(Math.max(...counts)).toBeLessThan(1150);
  });

  test('the hash is the same everywhere: fixed values', () => {
    expect(connectionHash('')).toBe(connectionHash(''));
    expect(connectionHash('abc=')).not.toBe(connectionHash('abd='));
    expect(connectionHash('L0SM9cOFvHcCIhw=')).toBe(connectionHash('L0SM9cOFvHcCIhw='));
    expect(Number.isInteger(connectionHash('x')) && connectionHash('x') >= 0).toBe(true);
  });

  test("shard 0 is the group's own partition; the others name the group and their shard", () => {
    expect(shardPartition('notes-all', 0)).toBe('notes-all');
    expect(shardPartition('notes-all', 5)).toBe('notes-all\u001f5');
    expect(groupOfPartition('notes-all\u001f5')).toBe('notes-all');
    expect(groupOfPartition('notes-all')).toBe('notes-all');
  });

  test('a group without layout is one partition; during a split a member is written to both layouts', () => {
    expect(partitionsOf('g', 'c1=', undefined)).toEqual(['g']);
    const layout = firstLayout('e1', 10);
    expect(partitionsOf('g', 'c1=', layout)).toEqual(['g']);
    const announced = splitting(layout);
    const id = [...Array(100).keys()].map((i) => `c${i}=`).find((candidate) => shardOf(candidate, 2) === 1)!;
    expect(partitionsOf('g', id, announced)).toEqual(['g', 'g\u001f1']);
  });

  test('covers: a member written with an older layout is rewritten once the split is announced', () => {
    const layout = firstLayout('e1', 10);
    const announced = splitting(layout);
    fc.assert(
      fc.property(connectionId, (id) => {
        expect(covers(undefined, undefined, 'g', id)).toBe(true);
        expect(covers(announced, layout, 'g', id)).toBe(true);
        expect(covers(layout, announced, 'g', id)).toBe(shardOf(id, 2) === 0);
      }),
    );
  });

  test('deliveryOf: inline up to inlineUntil, then the layout before the last split, then the current one', () => {
    const first = firstLayout('e1', 10);
    expect(deliveryOf(undefined, 'e1', 5)).toEqual({ lanes: false });
    expect(deliveryOf(first, 'e1', 10)).toEqual({ lanes: false });
    expect(deliveryOf(first, 'e1', 11)).toEqual({ lanes: true, shards: 1 });
    const doubled = split(splitting(first), 'e1', 20);
    expect(doubled).toMatchObject({ shards: 2, previousShards: 1, splitAt: 20, inlineUntil: 10, version: 3 });
    expect(doubled.splittingTo).toBeUndefined();
    expect(deliveryOf(doubled, 'e1', 10)).toEqual({ lanes: false });
    expect(deliveryOf(doubled, 'e1', 20)).toEqual({ lanes: true, shards: 1 });
    expect(deliveryOf(doubled, 'e1', 21)).toEqual({ lanes: true, shards: 2 });
    // In an epoch after the layout's, every seq goes by the current shards.
    expect(deliveryOf(doubled, 'e2', 1)).toEqual({ lanes: true, shards: 2 });
    expect(split(doubled, 'e2', 3).inlineUntil).toBe(0);
  });

  test('a lane made by the last split waits for the lane it came from', () => {
    const four = split(split(firstLayout('e', 0), 'e', 5), 'e', 9);
    expect(four.shards).toBe(4);
    expect([0, 1, 2, 3].map((shard) => parentLane(four, shard))).toEqual([undefined, undefined, 0, 1]);
    expect(parentLane(firstLayout('e', 0), 0)).toBeUndefined();
  });

  test('layoutOf reads what the stores write, and refuses what is not a layout', () => {
    const layout = splitting(firstLayout('e1', 3));
    expect(layoutOf({ group: 'g', connectionId: '#lanes', ...layout })).toEqual(layout);
    expect(layoutOf(undefined)).toBeUndefined();
    expect(layoutOf({ shards: 3 })).toBeUndefined();
    expect(layoutOf({ shards: 256 })).toBeUndefined();
    expect(layoutOf({ shards: 2, splittingTo: 2 })).toEqual({
      shards: 2,
      previousShards: 0,
      splitAt: 0,
      inlineUntil: 0,
      epoch: '',
      version: 0,
    });
  });
});
