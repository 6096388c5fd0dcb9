import { TokenBucket } from './request-quota';

/**
 * API Gateway's quota on new connections (per account and region; 500 a second by default), as
 * a token bucket: a second's worth of handshakes may come at once, then they are refused until
 * the bucket refills at `perSecond`.
 */
export class ConnectionRate {
  private readonly bucket: TokenBucket;

  constructor(perSecond: number, now: () => number = Date.now) {
    this.bucket = new TokenBucket({ rate: perSecond, burst: perSecond }, now);
  }

  /** Takes a token for one handshake; false when the quota is used up. */
  take(): boolean {
    return this.bucket.take();
  }
}
