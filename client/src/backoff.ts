export interface BackoffOptions {
  /** The ceiling of the first delay, in milliseconds. @default 500 */
  readonly initialDelayMs?: number;
  /** The ceiling no delay exceeds. @default 30000 */
  readonly maxDelayMs?: number;
}

/**
 * Exponential backoff with full jitter: the n-th delay is random between 0 and
 * min(max, initial * 2^n). Clients cut at the same moment come back spread out, not in lockstep.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random = Math.random): number {
  const initial = options.initialDelayMs ?? 500;
  const max = options.maxDelayMs ?? 30_000;
  return Math.floor(random() * Math.min(max, initial * 2 ** attempt));
}
