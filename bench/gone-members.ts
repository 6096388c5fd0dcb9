import { connectionHash } from '../lambdas/rohrpost/storage/shard-layout';

/**
 * Whether a member is one of the gone ones (410): the emulated API and the bench decide alike.
 * From the hash's high bits: its low bits pick the shard, and gone members picked by
 * `hash % 100` would all be in the shards whose numbers are multiples of 4, as no real
 * connections are.
 */
export function isGone(connectionId: string, goneEvery: number): boolean {
  return goneEvery > 0 && Math.floor((connectionHash(connectionId) / 2 ** 32) * goneEvery) === 0;
}
