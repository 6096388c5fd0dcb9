import { connectionHash } from '../lambdas/rohrpost/storage/shard-layout';

/** Whether a member is one of the gone ones (410): the emulated API and the bench decide alike. */
export function isGone(connectionId: string, goneEvery: number): boolean {
  return goneEvery > 0 && connectionHash(connectionId) % goneEvery === 0;
}
