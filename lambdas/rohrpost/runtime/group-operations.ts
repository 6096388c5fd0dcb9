import type { FanOutResult } from '../delivery/fan-out';
import type { GroupOperations, JoinOptions, JoinResult } from '../protocol/context';
import { HandlerError } from '../protocol/errors';
import { groupNameProblem } from '../protocol/group-name';
import { buildMessage } from '../protocol/message';
import type { GroupHistory, Recovery } from '../storage/group-history';
import type { MembershipStore } from '../storage/membership';
import { covers } from '../storage/shard-layout';

export interface GroupOperationsOptions {
  readonly connectionId: string;
  readonly membership: MembershipStore;
  /** `undefined` when groups keep no history. */
  readonly history: GroupHistory | undefined;
  /** Queues a message, exactly as given, on this connection. */
  readonly enqueue: (payload: string) => void;
  /** Sends a message to every member of a group. */
  readonly fanOut: (group: string, payload: string) => Promise<FanOutResult>;
}

/**
 * A connection's groups. Joining writes the membership before it reads the group's position,
 * so every message after that position reaches the connection: live, because it is a member
 * by then, or recovered, because it is after `since`.
 *
 * The same read gives a big group's layout (shard-layout.ts). A membership written with an
 * older layout than that one is written again where the layout puts it: a split begins by
 * announcing its layout and only then copies the members, so a member written before it is
 * copied, and one written after it reads the new layout here.
 */
export function groupOperations(options: GroupOperationsOptions): GroupOperations {
  const { connectionId, membership, history, enqueue, fanOut } = options;
  return {
    async join(group: string, { since }: JoinOptions = {}): Promise<JoinResult> {
      checkGroupName(group);
      const written = await membership.join(group, connectionId);
      if (!history) return since ? { recovered: false } : {};
      const state = since ? await history.recover(group, since) : await history.state(group);
      if (!covers(written, state.layout, group, connectionId)) {
        await membership.join(group, connectionId, state.layout);
      }
      if (!since) return { position: state.position };
      const { position, messages } = state as Recovery;
      for (const payload of messages ?? []) enqueue(payload);
      return { position, recovered: messages !== undefined };
    },
    async leave(group) {
      checkGroupName(group);
      await membership.leave(group, connectionId);
    },
    async send(group, message) {
      checkGroupName(group);
      return fanOut(group, JSON.stringify(buildMessage(message)));
    },
  };
}

/** A name the client asked for (a subscription's id, say) may not fit: that is a bad request. */
function checkGroupName(group: string): void {
  const problem = groupNameProblem(group);
  if (problem) throw new HandlerError(problem);
}
