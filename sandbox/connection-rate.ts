/**
 * API Gateway's quota on new connections (per account and region; 500 a second by default), as
 * a token bucket: a second's worth of handshakes may come at once, then they are refused until
 * the bucket refills at `perSecond`.
 */
export class ConnectionRate {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = perSecond;
    this.refilledAt = now();
  }

  /** Takes a token for one handshake; false when the quota is used up. */
  take(): boolean {
    if (this.perSecond === Infinity) return true;
    const now = this.now();
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.refilledAt) / 1000) * this.perSecond);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
