/**
 * The messages fanned out to groups, and what became of their posts to members, added up as
 * fan-outs settle them: each post is delivered,
 * gone (410, or known gone), throttled (the API still answered 429 after the retries) or failed
 * otherwise; and when the first and the last delivered post arrived.
 */
export class PostTally {
  /** Messages sent to a group (each to all of its members). */
  messages = 0;
  delivered = 0;
  gone = 0;
  throttled = 0;
  failed = 0;
  /** Epoch milliseconds of the first delivered post; `undefined` until one is. */
  firstDeliveredAt: number | undefined;
  /** Epoch milliseconds of the last delivered post; `undefined` until one is. */
  lastDeliveredAt: number | undefined;

  recordDelivered(at = Date.now()): void {
    this.delivered++;
    this.firstDeliveredAt ??= at;
    this.lastDeliveredAt = at;
  }

  recordFailed(error: unknown): void {
    if (isThrottling(error)) this.throttled++;
    else this.failed++;
  }

  /** Adds another tally's counts and times to this one. */
  add(other: PostTally): void {
    this.messages += other.messages;
    this.delivered += other.delivered;
    this.gone += other.gone;
    this.throttled += other.throttled;
    this.failed += other.failed;
    if (other.firstDeliveredAt !== undefined) {
      this.firstDeliveredAt = Math.min(this.firstDeliveredAt ?? Infinity, other.firstDeliveredAt);
      this.lastDeliveredAt = Math.max(this.lastDeliveredAt ?? -Infinity, other.lastDeliveredAt!);
    }
  }
}

/** Whether the management API refused a request with 429, through `SignedConnections` or the SDK. */
export function isThrottling(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { status, $metadata } = error as { status?: unknown; $metadata?: { httpStatusCode?: unknown } };
  return status === 429 || $metadata?.httpStatusCode === 429;
}
