/**
 * Paces requests to a rate with a burst, and slows down when the API throttles: the generic
 * cell rate algorithm (a token bucket without a timer, O(1) per request) with additive
 * increase, multiplicative decrease. Each request reserves the next slot and waits for it, so
 * waiters go in the order they asked.
 */
export interface PacerOptions {
  /** Requests a second at most. */
  readonly rate: number;
  /** Requests that may go at once after a quiet spell. @default rate / 2 */
  readonly burst?: number;
  /** The rate never falls below this fraction of `rate` on throttling. @default 0.05 */
  readonly minFraction?: number;
  /** @default performance.now, in milliseconds */
  readonly now?: () => number;
  /** @default setTimeout */
  readonly sleep?: (milliseconds: number) => Promise<void>;
}

/** After throttling the rate is halved; it grows back by this fraction of the full rate each second. */
const RECOVERY_PER_SECOND = 0.1;

export class Pacer {
  private readonly now: () => number;
  private readonly sleep: (milliseconds: number) => Promise<void>;
  private readonly ceiling: number;
  private readonly floor: number;
  private readonly burst: number;
  private current: number;
  /** When the next request may go, were the bucket empty (the algorithm's theoretical arrival time). */
  private nextAt = -Infinity;
  private adjustedAt: number;
  private throttledAt = -Infinity;

  constructor(options: PacerOptions) {
    if (!(options.rate > 0)) throw new RangeError(`A pacer's rate is above 0, not ${options.rate}.`);
    this.now = options.now ?? (() => performance.now());
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.ceiling = options.rate;
    this.floor = options.rate * (options.minFraction ?? 0.05);
    this.burst = Math.max(1, options.burst ?? options.rate / 2);
    this.current = options.rate;
    this.adjustedAt = this.now();
  }

  /** The rate now, in requests a second. */
  get rate(): number {
    return this.current;
  }

  /**
   * Waits for this request's slot. A request of `cost` c takes c slots: a caller whose requests
   * cost 1/2 goes at twice the rate (lane-pace.ts).
   */
  async take(cost = 1): Promise<void> {
    const now = this.now();
    this.recover(now);
    const interval = 1000 / this.current;
    const tolerance = (this.burst - 1) * interval;
    const wait = this.nextAt - tolerance - now;
    this.nextAt = Math.max(this.nextAt, now) + interval * cost;
    if (wait > 0) await this.sleep(wait);
  }

  /** The API answered 429: halve the rate, once for the 429s of the same 100 ms. */
  throttled(): void {
    const now = this.now();
    if (now - this.throttledAt < 100) return;
    this.throttledAt = now;
    this.recover(now);
    this.current = Math.max(this.floor, this.current / 2);
    this.adjustedAt = now;
  }

  private recover(now: number): void {
    if (this.current >= this.ceiling) return;
    const seconds = (now - this.adjustedAt) / 1000;
    if (seconds <= 0) return;
    this.current = Math.min(this.ceiling, this.current + this.ceiling * RECOVERY_PER_SECOND * seconds);
    this.adjustedAt = now;
  }
}
