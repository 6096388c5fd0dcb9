import { performance } from 'node:perf_hooks';

/** Something in flight that can be abandoned, such as an outgoing HTTP request. */
export interface Abandonable {
  destroy(error: Error): void;
}

/**
 * Abandons what is still in flight `timeoutMs` after it started (at most a tenth later), with
 * one timer for all of it: a socket timeout, re-armed on every read and write, cost about a
 * tenth of each post's CPU on the fan-out's path. The timer does not keep the process alive
 * and stops when nothing is in flight.
 *
 * A deadline measures the other side, not this process: what is overdue when the timer fires is
 * abandoned only after the event loop's next poll for I/O (a `setImmediate`), so that an answer
 * that came while this thread could not run (a busy machine, a long garbage collection) is read
 * first, and not taken for no answer (https://nodejs.org/en/learn/asynchronous-work/event-loop-timers-and-nexttick).
 */
export class Deadlines {
  private readonly due = new Map<Abandonable, number>();
  private timer: NodeJS.Timeout | undefined;
  private checkPending = false;

  constructor(
    readonly timeoutMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(timeoutMs > 0))
      throw new RangeError(`A timeout is a number of milliseconds above 0, not ${timeoutMs}.`);
  }

  /** Starts the clock for one request. */
  start(request: Abandonable): void {
    this.due.set(request, this.now() + this.timeoutMs);
    this.timer ??= setInterval(() => this.checkAfterPoll(), Math.max(1, this.timeoutMs / 10)).unref();
  }

  /** The request ended, one way or another. */
  end(request: Abandonable): void {
    this.due.delete(request);
  }

  private checkAfterPoll(): void {
    if (this.checkPending) return;
    this.checkPending = true;
    setImmediate(() => {
      this.checkPending = false;
      this.abandonOverdue();
    }).unref();
  }

  private abandonOverdue(): void {
    const now = this.now();
    // A Map iterates in insertion order, which is deadline order: stop at the first not due.
    for (const [request, deadline] of this.due) {
      if (deadline > now) break;
      this.due.delete(request);
      request.destroy(new Error(`No answer within ${this.timeoutMs} ms`));
    }
    if (this.due.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
