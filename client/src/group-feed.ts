/** A place in a group's history: a message's `seq`, in the `epoch` it counts in. */
export interface GroupPosition {
  readonly epoch: string;
  readonly seq: number;
}

export type ChangeType = 'create' | 'update' | 'delete';

/** One change of a group, as its `subscription-update` told it. */
export interface Update<T = unknown> {
  /** The group's name. */
  readonly group: string;
  readonly type: ChangeType;
  /** What the server sends of the item: its keys, or what the table's rule or hook chose. */
  readonly object: T;
  /** On updates: the sorted names of the top-level attributes that changed. */
  readonly updatedFields?: readonly string[];
  /** The message's place in the group's history; absent from servers without one. */
  readonly seq?: number;
  readonly epoch?: string;
  /** The message's id: the same for every copy of one message. */
  readonly id: unknown;
}

/** What a subscribe reply says of the group. */
export interface SubscribeReply {
  readonly epoch?: unknown;
  readonly seq?: unknown;
  readonly recovered?: unknown;
}

/** What the owner of a feed must do after it took something in. */
export interface FeedResult {
  /** Updates to hand to the application, in order. */
  readonly applied: Update[];
  /** The application's copy may have missed messages that cannot be recovered: refetch. */
  readonly refetch: boolean;
  /** Subscribe again (with `since`): the history was lost, or a gap did not fill. */
  readonly resubscribe: boolean;
}

/** Early messages held at most; beyond this the gap before them is recovered by resubscribing. */
const MAX_EARLY = 1_000;
/** Ids remembered to drop duplicates from servers that send no seq. */
const RECENT_IDS = 1_000;

const nothing = (): FeedResult => ({ applied: [], refetch: false, resubscribe: false });

/**
 * The order of one group's updates, as PROTOCOL.md §5 prescribes: duplicates (by seq, or by id
 * from servers without seq) are dropped, messages that come early wait for the ones before
 * them, and messages that arrive while a subscribe is under way wait for its reply, which says
 * where the group stands. It does no I/O: its owner sends the subscribes it asks for.
 */
export class GroupFeed {
  /** Where the application's copy stands: the last update applied, or the last reply's position. */
  position: GroupPosition | undefined;
  private readonly early = new Map<string, Update>();
  private readonly recentIds = new Set<unknown>();
  private awaitingReply = false;

  /** A subscribe is about to be sent: returns its `since`, and holds messages until its reply. */
  subscribing(): GroupPosition | undefined {
    this.awaitingReply = true;
    return this.position;
  }

  /** The subscribe got no reply (its connection closed, it timed out): apply what can be applied. */
  abandoned(): FeedResult {
    this.awaitingReply = false;
    return this.position ? this.drain() : nothing();
  }

  /** Messages are waiting for one that has not come: the owner may recover it after a while. */
  get hasGap(): boolean {
    return this.position !== undefined && this.early.size > 0;
  }

  /** Takes in the reply of the subscribe sent with `since`. */
  replied(reply: SubscribeReply, since: GroupPosition | undefined): FeedResult {
    this.awaitingReply = false;
    if (typeof reply.epoch !== 'string' || typeof reply.seq !== 'number') {
      // A server without history: nothing to recover, nothing to order; hand over what came.
      this.position = undefined;
      const applied = [...this.early.values()];
      this.early.clear();
      return { applied, refetch: false, resubscribe: false };
    }
    const current = { epoch: reply.epoch, seq: reply.seq };
    const recovered = since !== undefined && reply.recovered === true;
    // Never backwards: a position already past the reply's has those messages applied.
    const behind = !this.position || this.position.epoch !== current.epoch || this.position.seq < current.seq;
    if (!recovered && behind) this.position = current;
    for (const [key, update] of this.early) {
      if (update.epoch !== this.position!.epoch || update.seq! <= this.position!.seq) this.early.delete(key);
    }
    return { ...this.drain(), refetch: since !== undefined && !recovered && behind };
  }

  /** Takes in one update of the group. */
  received(update: Update): FeedResult {
    if (update.seq === undefined || update.epoch === undefined) {
      if (this.recentIds.has(update.id)) return nothing();
      this.remember(update.id);
      if (this.awaitingReply) {
        this.early.set(`id:${String(update.id)}`, update);
        return nothing();
      }
      return { applied: [update], refetch: false, resubscribe: false };
    }
    const { position } = this;
    if (position && update.epoch === position.epoch && update.seq <= position.seq) return nothing();
    this.early.set(`${update.epoch}:${update.seq}`, update);
    if (this.awaitingReply || !position) return nothing();
    // Another epoch: the group's history was lost; the next subscribe says where it stands now.
    if (update.epoch !== position.epoch) return { applied: [], refetch: false, resubscribe: true };
    const result = this.drain();
    return this.early.size > MAX_EARLY ? { ...result, resubscribe: true } : result;
  }

  /** Applies the early messages that follow the position without a gap. */
  private drain(): FeedResult {
    const applied: Update[] = [];
    let position = this.position!;
    for (;;) {
      const key = `${position.epoch}:${position.seq + 1}`;
      const next = this.early.get(key);
      if (!next) break;
      this.early.delete(key);
      applied.push(next);
      position = { epoch: position.epoch, seq: position.seq + 1 };
    }
    this.position = position;
    return { applied, refetch: false, resubscribe: false };
  }

  private remember(id: unknown): void {
    this.recentIds.add(id);
    if (this.recentIds.size > RECENT_IDS) this.recentIds.delete(this.recentIds.values().next().value);
  }
}
