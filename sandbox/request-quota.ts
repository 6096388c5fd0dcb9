/** A request quota: `rate` requests a second in the long run, up to `burst` at once. */
export interface RequestRate {
  readonly rate: number;
  readonly burst: number;
}

/**
 * API Gateway's throttle on all the requests of an account in a region: 10,000 a second with a
 * burst of 5,000 by default (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html).
 * The management API's `@connections` calls count against it, with every other API Gateway request.
 */
export const ACCOUNT_REQUEST_QUOTA: RequestRate = { rate: 10_000, burst: 5_000 };

/**
 * A token bucket, the algorithm API Gateway throttles with
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html):
 * it holds up to `burst` tokens, starts full, and refills continuously at `rate` a second; each
 * request takes one, and a request that finds less than one is throttled. An `Infinity` rate
 * takes every request.
 */
export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly limit: RequestRate,
    private readonly now: () => number = Date.now,
  ) {
    if (!(limit.rate > 0) || !(limit.burst >= 1)) {
      throw new RangeError(
        `A token bucket needs a rate above 0 and a burst of 1 or more, not ${JSON.stringify(limit)}.`,
      );
    }
    this.tokens = limit.burst;
    this.refilledAt = now();
  }

  /** Takes a token for one request; false when the bucket is empty and the request is throttled. */
  take(): boolean {
    if (this.limit.rate === Infinity) return true;
    const now = this.now();
    this.tokens = Math.min(
      this.limit.burst,
      this.tokens + ((now - this.refilledAt) / 1000) * this.limit.rate,
    );
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
