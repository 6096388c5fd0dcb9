/** The clock idle instances are timed by; tests give a manual one. */
export interface IdleClock {
  now(): number;
  setTimeout(callback: () => void, milliseconds: number): unknown;
  clearTimeout(timer: unknown): void;
}

export const SYSTEM_CLOCK: IdleClock = {
  now: () => Date.now(),
  setTimeout: (callback, milliseconds) => setTimeout(callback, milliseconds).unref(),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

/**
 * How long Lambda keeps an idle execution environment is not published (it varies; it is
 * minutes); LocalStack keeps one 10 minutes by default (LAMBDA_KEEPALIVE_MS), and so does the
 * sandbox.
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 10 * 60_000;

/**
 * The instances of a function waiting for an invocation: the most recently used is taken
 * first (so that the others stay idle), and one idle for `idleTimeoutMs` is handed to `reap`,
 * as Lambda shuts down an execution environment that has had nothing to do for a while.
 */
export class IdleInstances<T> {
  /** The most recently idle last, each with when it became idle. */
  private readonly entries: Array<{ readonly instance: T; readonly since: number }> = [];
  private timer: unknown;
  private readonly clock: IdleClock;

  constructor(
    private readonly idleTimeoutMs: number,
    private readonly reap: (instance: T, idleMilliseconds: number) => void,
    clock: IdleClock = SYSTEM_CLOCK,
  ) {
    this.clock = clock;
  }

  get size(): number {
    return this.entries.length;
  }

  /** `instance` has finished an invocation (or started) and waits for the next. */
  push(instance: T): void {
    this.entries.push({ instance, since: this.clock.now() });
    if (this.entries.length === 1) this.schedule();
  }

  /** The most recently used idle instance, which stops being idle. */
  pop(): T | undefined {
    const entry = this.entries.pop();
    if (this.entries.length === 0) this.cancel();
    return entry?.instance;
  }

  /** Takes `instance` out (it has ended); false when it was not idle. */
  remove(instance: T): boolean {
    const index = this.entries.findIndex((entry) => entry.instance === instance);
    if (index === -1) return false;
    this.entries.splice(index, 1);
    if (index === 0) this.schedule();
    return true;
  }

  /** Takes every idle instance out. */
  drain(): T[] {
    this.cancel();
    return this.entries.splice(0).map((entry) => entry.instance);
  }

  /** A timer for the longest idle instance, which is the first. */
  private schedule(): void {
    this.cancel();
    const oldest = this.entries[0];
    if (!oldest) return;
    const due = oldest.since + this.idleTimeoutMs - this.clock.now();
    this.timer = this.clock.setTimeout(() => this.reapDue(), Math.max(0, due));
  }

  private reapDue(): void {
    this.timer = undefined;
    const now = this.clock.now();
    while (this.entries.length > 0 && now - this.entries[0]!.since >= this.idleTimeoutMs) {
      const { instance, since } = this.entries.shift()!;
      this.reap(instance, now - since);
    }
    this.schedule();
  }

  private cancel(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
