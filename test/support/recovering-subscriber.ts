import WebSocket from 'ws';
import type { GroupPosition } from '../../lambdas/rohrpost/protocol/position';
import type { Update } from './updates';

interface SubscribeReply {
  id: string;
  type: 'subscribe';
  error?: unknown;
  data?: { group: string; epoch: string; seq: number; recovered?: boolean };
}

interface GroupState {
  /** Where the first subscribe started the group: the messages after it are the client's. */
  start?: GroupPosition;
  /** The last message applied, in seq order. */
  position?: GroupPosition;
  /** The subscribe under way, the position it recovers from, and its timeout. */
  awaiting?: { readonly id: string; readonly since?: GroupPosition; readonly timer: NodeJS.Timeout };
  /** Messages that came early, by `epoch:seq`. */
  readonly early: Map<string, Update>;
  /** Every message applied, in the order applied. */
  readonly applied: Array<{ seq: number; id: number; epoch: string }>;
}

export interface SubscriberStats {
  connections: number;
  resubscribes: number;
  /** Resubscribes whose reply said the missed messages were all sent. */
  recoveries: number;
  /** Messages those resubscribes recovered from history. */
  recoveredMessages: number;
  /** Resubscribes whose reply said the client must refetch. */
  refetches: number;
  /** Frames dropped because their seq was applied already. */
  duplicates: number;
  /** Messages that arrived before one with a lower seq, and waited for it. */
  reordered: number;
  /** Subscribes sent again because their reply did not come in time. */
  timeouts: number;
}

/**
 * A test client that holds every message of its groups exactly once, in seq order, as
 * PROTOCOL.md §5 tells clients to: it drops duplicates by seq, holds early messages until the
 * gap before them is filled, and after every reconnect resubscribes with `since`. It stands in
 * for a real application's client in the chaos test.
 */
export class RecoveringSubscriber {
  readonly stats: SubscriberStats = {
    connections: 0,
    resubscribes: 0,
    recoveries: 0,
    recoveredMessages: 0,
    refetches: 0,
    duplicates: 0,
    reordered: 0,
    timeouts: 0,
  };
  /** Protocol violations seen, for the test to assert there are none. */
  readonly problems: string[] = [];
  private readonly groups = new Map<string, GroupState>();
  private socket: WebSocket | undefined;
  private stopped = false;
  private requests = 0;
  private whoami: { resolve(connectionId: string): void; reject(error: Error): void } | undefined;
  private opened: (() => void) | undefined;

  constructor(
    private readonly url: string,
    groups: readonly string[],
    private readonly reconnectDelayMs: () => number = () => 0,
    /** A subscribe without a reply this long is sent again, as a client's call timeout would. */
    private readonly replyTimeoutMs = 30_000,
  ) {
    for (const group of groups) this.groups.set(group, { early: new Map(), applied: [] });
  }

  /** Connects and subscribes to every group; resolves once connected. */
  start(): Promise<void> {
    return new Promise((resolve) => {
      this.opened = resolve;
      this.connect();
    });
  }

  /** Where each group stands: the last seq applied, or undefined while it has no position. */
  positionOf(group: string): GroupPosition | undefined {
    return this.groups.get(group)!.position;
  }

  /** Where the client's first subscribe to the group started. */
  startOf(group: string): GroupPosition | undefined {
    return this.groups.get(group)!.start;
  }

  /** Every message of the group applied, in order. */
  appliedIn(group: string): ReadonlyArray<{ seq: number; id: number; epoch: string }> {
    return this.groups.get(group)!.applied;
  }

  get groupNames(): string[] {
    return [...this.groups.keys()];
  }

  /** True when no subscribe is under way and the socket is open. */
  get settled(): boolean {
    return (
      this.socket?.readyState === WebSocket.OPEN &&
      [...this.groups.values()].every((state) => !state.awaiting)
    );
  }

  /** Cuts the connection at once, as a network drop would; the client reconnects. */
  dropAbruptly(): void {
    this.socket?.terminate();
  }

  /** The API Gateway id of the current connection, asked of the `whoami` handler. */
  connectionId(): Promise<string> {
    return new Promise((resolve, reject) => {
      if (this.socket?.readyState !== WebSocket.OPEN) return reject(new Error('not connected'));
      this.whoami = { resolve, reject };
      this.socket.send(JSON.stringify({ id: 'whoami', type: 'whoami' }));
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const socket = this.socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    await new Promise((resolve) => {
      socket.once('close', resolve);
      socket.close(1000);
    });
  }

  private connect(): void {
    const socket = new WebSocket(this.url.replace('ws://localhost', 'ws://127.0.0.1'));
    this.socket = socket;
    socket.on('open', () => {
      this.stats.connections++;
      for (const group of this.groups.keys()) this.subscribe(socket, group);
      this.opened?.();
    });
    socket.on('message', (data: Buffer) =>
      this.receive(JSON.parse(data.toString()) as Record<string, unknown>),
    );
    socket.on('error', () => undefined);
    socket.on('close', () => {
      for (const state of this.groups.values()) this.forgetSubscribe(state);
      this.whoami?.reject(new Error('the connection closed'));
      this.whoami = undefined;
      if (!this.stopped) setTimeout(() => this.connect(), this.reconnectDelayMs());
    });
  }

  private subscribe(socket: WebSocket, group: string): void {
    const state = this.groups.get(group)!;
    const since = state.position;
    if (since) this.stats.resubscribes++;
    const id = `${group}|${++this.requests}`;
    const timer = setTimeout(() => {
      this.stats.timeouts++;
      if (socket.readyState === WebSocket.OPEN) this.subscribe(socket, group);
    }, this.replyTimeoutMs);
    state.awaiting = { id, since, timer };
    socket.send(JSON.stringify({ id, type: 'subscribe', data: group, ...(since && { since }) }));
  }

  private forgetSubscribe(state: GroupState): void {
    clearTimeout(state.awaiting?.timer);
    state.awaiting = undefined;
  }

  private receive(message: Record<string, unknown>): void {
    if (message.type === 'subscription-update') return this.receiveUpdate(message as unknown as Update);
    // API Gateway's answer to a request whose function took too long: the subscribe's timer retries it.
    if (message.message === 'Endpoint request timed out') return;
    if (message.type === 'subscribe') return this.receiveReply(message as unknown as SubscribeReply);
    if (message.type === 'whoami') {
      this.whoami?.resolve((message.data as { connectionId: string }).connectionId);
      this.whoami = undefined;
      return;
    }
    this.problems.push(`unexpected message ${JSON.stringify(message)}`);
  }

  private receiveUpdate(update: Update): void {
    const state = this.groups.get(update.data.group);
    if (!state) return void this.problems.push(`an update of a group not subscribed: ${update.data.group}`);
    const { epoch, seq } = update.data;
    if (state.position?.epoch === epoch && seq <= state.position.seq) {
      this.stats.duplicates++;
      return;
    }
    const key = `${epoch}:${seq}`;
    const known = state.early.get(key);
    if (known) {
      this.stats.duplicates++;
      if (JSON.stringify(known) !== JSON.stringify(update)) this.problems.push(`two messages as ${key}`);
      return;
    }
    state.early.set(key, update);
    // Before the first reply there is no position, and one of another epoch waits for the reply.
    if (state.position?.epoch !== epoch) return;
    if (seq !== state.position.seq + 1) this.stats.reordered++;
    this.apply(state);
  }

  private receiveReply(reply: SubscribeReply): void {
    const group = reply.id.split('|')[0]!;
    const state = this.groups.get(group);
    if (!state || state.awaiting?.id !== reply.id) return; // a reply on a connection since replaced
    if (reply.error !== undefined || !reply.data) {
      this.forgetSubscribe(state);
      this.problems.push(`subscribe failed: ${JSON.stringify(reply)}`);
      return;
    }
    const { since } = state.awaiting;
    this.forgetSubscribe(state);
    const current = { epoch: reply.data.epoch, seq: reply.data.seq };
    if (since && reply.data.recovered) {
      this.stats.recoveries++;
      this.stats.recoveredMessages += current.seq - since.seq;
    } else {
      // A first subscribe, or one that cannot recover: from here on, as after a refetch.
      if (since) this.stats.refetches++;
      state.position = current;
      state.start ??= current;
    }
    for (const [key, update] of state.early) {
      if (update.data.epoch !== state.position!.epoch || update.data.seq <= state.position!.seq) {
        state.early.delete(key);
        this.stats.duplicates++;
      }
    }
    this.apply(state);
  }

  /** Applies the early messages that follow the position without a gap. */
  private apply(state: GroupState): void {
    if (!state.position) return;
    const { epoch } = state.position;
    let { seq } = state.position;
    for (
      let next = state.early.get(`${epoch}:${seq + 1}`);
      next;
      next = state.early.get(`${epoch}:${seq + 1}`)
    ) {
      state.early.delete(`${epoch}:${++seq}`);
      state.applied.push({ seq, id: next.id, epoch });
    }
    state.position = { epoch, seq };
  }
}
