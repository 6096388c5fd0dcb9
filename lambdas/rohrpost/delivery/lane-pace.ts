/**
 * How fast a lane goes against its worker's share of the account's budget. Members are spread
 * over a group's shards by a hash, so the shards differ in size by a few percent (about
 * 1.4 standard deviations of a binomial for the largest of 8), and lanes that went at the same
 * pace would leave the largest shard to finish last while the others' share of the budget went
 * unused. Instead each lane goes at its shard's size over the average shard's, as the group's
 * lanes counted them at their last run: a group's lanes finish together, and together they
 * post at the budget. Pure: no I/O.
 */
import type { ShardSize } from '../storage/shard-layout';

/**
 * The pace factor's bounds: an estimate from stale counts cannot take a lane far from its
 * share, and lanes of several groups together stay within a quarter above the budget at worst.
 */
export const PACE_FACTOR_BOUNDS = { min: 0.8, max: 1.25 } as const;

/**
 * The factor on a lane's pace: `own` members in shard `shard` of `shards`, beside the sizes the
 * other lanes recorded. Sizes counted among another number of shards (before a split) are not
 * comparable and are left out; with none left, 1.
 */
export function paceFactor(
  own: number,
  shard: number,
  shards: number,
  sizes: ReadonlyMap<number, ShardSize | undefined>,
): number {
  let total = own;
  let counted = 1;
  for (const [other, size] of sizes) {
    if (other === shard || other >= shards || size?.shards !== shards) continue;
    total += size.members;
    counted++;
  }
  if (counted === 1 || total === 0) return 1;
  const factor = own / (total / counted);
  return Math.min(PACE_FACTOR_BOUNDS.max, Math.max(PACE_FACTOR_BOUNDS.min, factor));
}
