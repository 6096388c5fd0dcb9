/** A skew this large is what makes AWS refuse a signature (it allows 5 minutes); the SDK's threshold. */
const SKEW_THRESHOLD_MS = 4 * 60 * 1000;
/** A response that took longer says nothing reliable about the server's clock. */
const MAX_ROUND_TRIP_MS = 15 * 60 * 1000;

/**
 * This machine's clock as AWS sees it, kept as the SDK keeps it: every response's `Date` header
 * sets the offset, so that a skewed clock costs one refused request, not every request after.
 */
export class ClockOffset {
  /** Milliseconds to add to the local clock. */
  offset = 0;

  constructor(private readonly localClock: () => number = Date.now) {}

  /** The corrected time, for signing. */
  date(): Date {
    return new Date(this.localClock() + this.offset);
  }

  /** Learns the server's time from a response's `Date` header, given how long the request took. */
  observe(dateHeader: string | undefined, roundTripMs: number): void {
    if (dateHeader === undefined || roundTripMs > MAX_ROUND_TRIP_MS) return;
    const serverTime = Date.parse(dateHeader);
    if (!Number.isNaN(serverTime)) this.offset = serverTime - this.localClock();
  }

  /**
   * Whether the offset moved away from `before`, the offset a request was signed with, to a skew
   * AWS refuses: then that request failed because of the clock, and is worth one more try.
   */
  corrected(before: number): boolean {
    return this.offset !== before && Math.abs(this.offset) >= SKEW_THRESHOLD_MS;
  }
}
