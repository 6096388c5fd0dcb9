import { PACE_FACTOR_BOUNDS, paceFactor } from '../../lambdas/rohrpost/delivery/lane-pace';
import type { ShardSize } from '../../lambdas/rohrpost/storage/shard-layout';
import { shardOf } from '../../lambdas/rohrpost/storage/shard-layout';

const sizes = (members: Array<number | undefined>, shards = members.length) =>
  new Map<number, ShardSize | undefined>(
    members.map((count, shard) => [shard, count === undefined ? undefined : { members: count, shards }]),
  );

describe('paceFactor: a lane goes at its shard over the average shard', () => {
  test("a shard above the group's average goes faster, one below slower, in proportion", () => {
    // Shards of 1,100, 1,000, 950 and 950: the average is 1,000.
    const recorded = sizes([1_100, 1_000, 950, 950]);
    expect(paceFactor(1_100, 0, 4, recorded)).toBeCloseTo(1.1, 10);
    expect(paceFactor(1_000, 1, 4, recorded)).toBeCloseTo(1, 10);
    expect(paceFactor(950, 2, 4, recorded)).toBeCloseTo(0.95, 10);
  });

  test('its own count now replaces the one it recorded', () => {
    expect(paceFactor(1_200, 0, 2, sizes([1_000, 800]))).toBeCloseTo(1_200 / 1_000, 10);
  });

  test('1 while no other lane has counted, and for sizes counted before a split', () => {
    expect(paceFactor(1_300, 0, 4, sizes([undefined, undefined, undefined, undefined]))).toBe(1);
    expect(paceFactor(1_300, 0, 4, new Map())).toBe(1);
    // Counted among 2 shards: twice the size, not comparable.
    expect(paceFactor(1_300, 0, 4, sizes([2_600, 2_400], 2))).toBe(1);
  });

  test('the lanes of a group split by hash finish together and post at the budget together', () => {
    const members = Array.from({ length: 20_000 }, (_, i) => `connection-${i}`);
    const shards = 8;
    const counts = Array.from({ length: shards }, () => 0);
    for (const member of members) counts[shardOf(member, shards)]!++;
    const recorded = sizes(counts);
    const factors = counts.map((own, shard) => paceFactor(own, shard, shards, recorded));
    // Each at factor × its equal share of the budget: the same finish time for every lane...
    const finishTimes = counts.map((own, shard) => own / factors[shard]!);
    for (const time of finishTimes) expect(time).toBeCloseTo(members.length / shards, 6);
    // ...and together exactly the budget.
    expect(factors.reduce((sum, factor) => sum + factor, 0)).toBeCloseTo(shards, 10);
    // Without the factor the largest shard would finish last.
    expect(Math.max(...counts)).toBeGreaterThan(members.length / shards);
  });

  test('bounded, so stale counts cannot take a lane far from its share', () => {
    expect(paceFactor(5_000, 0, 2, sizes([0, 1_000]))).toBe(PACE_FACTOR_BOUNDS.max);
    expect(paceFactor(100, 0, 2, sizes([0, 5_000]))).toBe(PACE_FACTOR_BOUNDS.min);
  });
});
