/** API Gateway WebSocket quotas that shape both the functions and the local sandbox. */
export const ApiGatewayLimits = {
  /** Largest message, in a frame or posted to `@connections` (128 KB). */
  maxMessageBytes: 128 * 1024,
  /** Largest single WebSocket frame from a client (32 KB); a larger one closes with 1009. */
  maxFrameBytes: 32 * 1024,
  /** A connection with no messages for this long is closed. */
  idleTimeoutMs: 10 * 60 * 1000,
  /** No connection lives longer than this. */
  maxConnectionMs: 2 * 60 * 60 * 1000,
  /** New connections a second, per account and region (adjustable with AWS); more are refused with 429. */
  newConnectionsPerSecond: 500,
  /** API Gateway gives up on an integration after this long. */
  integrationTimeoutMs: 29 * 1000,
} as const;
