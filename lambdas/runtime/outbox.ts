import type { Connections } from '../delivery/connections';
import { ConnectionGoneError } from '../delivery/connections';
import type { Logger } from '../logger';

/** How an invocation's messages ended up. */
export type OutboxResult =
  | { readonly delivered: true; readonly routeResponse?: string }
  | { readonly delivered: false; readonly reason: 'gone' | 'failed'; readonly error: unknown };

/**
 * The messages one invocation sends on its own connection. Each message but the last goes out
 * through PostToConnection as soon as the next one is queued, one after the other; the last
 * becomes the route response, which costs no API call. So a plain reply makes no call at all,
 * and several messages arrive in the order they were sent.
 */
export class Outbox {
  private held: { payload: string; close: boolean } | undefined;
  private work: Promise<void> | undefined;
  private failure: { error: unknown } | undefined;
  private closed = false;

  constructor(
    private readonly connectionId: string,
    private readonly connections: () => Connections,
    private readonly logger: Logger,
  ) {}

  /** Queues a message; one queued after a message that closes the connection is logged, not sent. */
  enqueue(payload: string, close = false): void {
    if (this.closed) {
      this.logger.warn('Message not sent: an earlier message closed the connection', {
        connectionId: this.connectionId,
      });
      return;
    }
    if (this.held) this.post(this.held.payload);
    this.held = { payload, close };
    this.closed = close;
  }

  /**
   * Waits until every posted message is out; the last message is the route response. Returns
   * at once when nothing was posted, the common case of a single reply.
   */
  finish(): OutboxResult | Promise<OutboxResult> {
    const last = this.held;
    this.held = undefined;
    if (last?.close) {
      // The route response would arrive after the close: post the message, then close.
      this.post(last.payload);
      this.chain(() => this.connections().close(this.connectionId));
    }
    return this.work ? this.work.then(() => this.outcome(last)) : this.outcome(last);
  }

  private outcome(last: { payload: string; close: boolean } | undefined): OutboxResult {
    if (this.failure) {
      const { error } = this.failure;
      return { delivered: false, reason: error instanceof ConnectionGoneError ? 'gone' : 'failed', error };
    }
    return last && !last.close ? { delivered: true, routeResponse: last.payload } : { delivered: true };
  }

  private post(payload: string): void {
    this.chain(() => this.connections().post(this.connectionId, payload));
  }

  /** Runs tasks one after another; after a failure the rest are skipped, so no message jumps a gap. */
  private chain(task: () => Promise<void>): void {
    this.work = (this.work ?? Promise.resolve())
      .then(() => (this.failure ? undefined : task()))
      .catch((error: unknown) => {
        this.failure ??= { error };
      });
  }
}
