import type { Connections } from '../delivery/connections';
import { ConnectionGoneError } from '../delivery/connections';
import type { Logger } from '../logger';

/** How an invocation's messages ended up. */
export type OutboxResult =
  | { readonly delivered: true; readonly routeResponse?: string }
  | { readonly delivered: false; readonly reason: 'gone' | 'failed'; readonly error: unknown };

const DELIVERED: OutboxResult = Object.freeze({ delivered: true });

/**
 * The messages one invocation sends on its own connection. Each message but the last goes out
 * through PostToConnection as soon as the next one is queued, one after the other; the last
 * becomes the route response, which costs no API call. So a plain reply makes no call at all,
 * and several messages arrive in the order they were sent.
 *
 * A message queued after the handler settled (work it started and did not await) is posted
 * at once and logged as an error: Lambda may freeze the instance before it goes out.
 */
export class Outbox {
  /** The last message queued: the route response, unless another is queued or it closes the connection (`closed`). */
  private heldPayload: string | undefined;
  private work: Promise<void> | undefined;
  private failure: { error: unknown } | undefined;
  private closed = false;
  private finished = false;

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
    this.closed = close;
    if (this.finished) return this.sendLate(payload, close);
    if (this.heldPayload !== undefined) this.post(this.heldPayload);
    this.heldPayload = payload;
  }

  /**
   * Waits until every posted message is out; the last message is the route response. Returns
   * at once when nothing was posted, the common case of a single reply.
   */
  finish(): OutboxResult | Promise<OutboxResult> {
    this.finished = true;
    const last = this.heldPayload;
    this.heldPayload = undefined;
    if (last === undefined || !this.closed) {
      return this.work ? this.settled().then(() => this.outcome(last)) : this.outcome(last);
    }
    // The route response would arrive after the close: post the message, then close.
    this.post(last);
    this.chain(() => this.connections().close(this.connectionId));
    return this.settled().then(() => this.outcome(undefined));
  }

  /** Waits for the posts, those queued while waiting included. */
  private async settled(): Promise<void> {
    for (let current = this.work; ; current = this.work) {
      await current;
      if (current === this.work) return;
    }
  }

  private sendLate(payload: string, close: boolean): void {
    const { connectionId, logger } = this;
    logger.error(
      'A message was sent after its handler had finished. It is posted now, but on AWS the instance ' +
        'may be frozen before it goes out: await everything a handler starts.',
      { connectionId },
    );
    const previous = this.work ?? Promise.resolve();
    this.work = previous
      .then(async () => {
        await this.connections().post(connectionId, payload);
        if (close) await this.connections().close(connectionId);
      })
      .catch((error: unknown) => {
        if (!(error instanceof ConnectionGoneError))
          logger.error('A late message could not be sent', { connectionId, error });
      });
  }

  /** `routeResponse`: the last message, unless it closed the connection and was posted. */
  private outcome(routeResponse: string | undefined): OutboxResult {
    if (this.failure) {
      const { error } = this.failure;
      return { delivered: false, reason: error instanceof ConnectionGoneError ? 'gone' : 'failed', error };
    }
    return routeResponse === undefined ? DELIVERED : { delivered: true, routeResponse };
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
