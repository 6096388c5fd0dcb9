import type { Logger } from '../logger';
import type { FanOutResult } from '../protocol/context';
import { RecentSet } from '../recent-set';
import type { MembershipStore } from '../storage/membership';
import type { Connections } from './connections';
import { ConnectionGoneError } from './connections';
import type { Limiter, Release } from './limiter';
import type { PostTally } from './post-tally';

export interface FanOutOptions {
  readonly membership: MembershipStore;
  readonly connections: Connections;
  /** Bounds the posts in flight, shared by every fan-out of an invocation. */
  readonly limiter: Limiter;
  readonly goneConnections: GoneConnections;
  readonly logger: Logger;
  /** Adds up what became of each post, across fan-outs. @default nothing is added up */
  readonly tally?: PostTally;
  /** The group's members, when the caller has started reading them. @default `membership.members(group)` */
  readonly members?: AsyncIterable<string[]>;
}

export type { FanOutResult };

/** Some posts failed for reasons other than a gone connection; the rest were delivered. */
export class FanOutError extends Error {
  /** A few of the failures, for the log; `failed` counts them all. */
  readonly examples: readonly unknown[];

  constructor(
    readonly group: string,
    readonly failed: number,
    examples: readonly unknown[],
    readonly result: FanOutResult,
  ) {
    super(
      `${failed} of ${result.members} posts to group '${group}' failed, the first with: ${String(examples[0])}`,
      {
        cause: examples[0],
      },
    );
    this.name = 'FanOutError';
    this.examples = examples;
  }
}

const FAILURE_EXAMPLES = 3;

/**
 * Posts one payload to every member of a group: the next page of members is read while the
 * current page's posts go out, posts run concurrently up to the limiter's bound, and a member
 * whose connection is gone is removed from all its groups, once.
 */
export async function sendToGroup(
  group: string,
  payload: string,
  options: FanOutOptions,
): Promise<FanOutResult> {
  const { membership, connections, limiter, goneConnections, logger, tally } = options;
  if (tally) tally.messages++;
  const posts: Array<Promise<void>> = [];
  const failures: unknown[] = [];
  let failed = 0;
  let members = 0;
  let delivered = 0;
  let gone = 0;

  const post = async (connectionId: string, release: Release) => {
    try {
      await connections.post(connectionId, payload);
      delivered++;
      tally?.recordDelivered();
    } catch (error) {
      if (!(error instanceof ConnectionGoneError)) {
        tally?.recordFailed(error);
        if (failed++ < FAILURE_EXAMPLES) failures.push(error);
        return;
      }
      gone++;
      if (tally) tally.gone++;
      if (goneConnections.add(connectionId)) await removeGone(connectionId, membership, logger);
    } finally {
      release();
    }
  };

  // The next page is read while this one's posts go out.
  const pages = (options.members ?? membership.members(group))[Symbol.asyncIterator]();
  for (let next = pages.next(); ;) {
    const page = await next;
    if (page.done) break;
    next = pages.next();
    // Awaited at the next turn; until then a failed read must not count as unhandled.
    next.catch(() => undefined);
    for (const connectionId of page.value) {
      members++;
      if (goneConnections.has(connectionId)) {
        gone++;
        if (tally) tally.gone++;
        continue;
      }
      const release = limiter.tryAcquire() ?? (await limiter.acquire());
      posts.push(post(connectionId, release));
    }
  }
  await Promise.all(posts);

  const result = { members, delivered, gone };
  if (failed > 0) throw new FanOutError(group, failed, failures, result);
  return result;
}

async function removeGone(connectionId: string, membership: MembershipStore, logger: Logger): Promise<void> {
  try {
    const groups = await membership.leaveAll(connectionId);
    logger.info('Removed a gone connection from its groups', { connectionId, groups: groups.length });
  } catch (error) {
    // Not a delivery failure: the membership's TTL removes it in the end.
    logger.warn('Could not remove a gone connection from its groups', { connectionId, error });
  }
}

/**
 * Connections known to be gone, remembered by a Lambda instance so that each is cleaned up
 * once and not posted to again. Connection ids are never reused; the oldest are forgotten first.
 */
export class GoneConnections extends RecentSet<string> {}
