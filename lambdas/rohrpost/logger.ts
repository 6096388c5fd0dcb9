import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';

/** A structured logger: one JSON object per line, as CloudWatch Logs Insights likes them. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /**
   * Starts an invocation's lines: Lambda's context, when given (request id, function, cold
   * start), and keys such as the connection id, which replace the previous invocation's.
   * @default not supported: lines carry no invocation context
   */
  startInvocation?(context: Context | undefined, keys: Record<string, string | undefined>): void;
}

/**
 * A function's logger: Powertools for AWS Lambda's Logger, which writes JSON lines with the
 * service, level and timestamp and, once `startInvocation` gave it Lambda's context,
 * `function_request_id`, `function_name`, `cold_start` and the invocation's keys. The threshold
 * comes from `POWERTOOLS_LOG_LEVEL`, `LOG_LEVEL` or Lambda's `AWS_LAMBDA_LOG_LEVEL` (INFO by
 * default); `Error` values are logged with name, location and stack.
 */
export function createLogger(service: string): Logger {
  const logger = new PowertoolsLogger({ serviceName: service });
  // Most invocations log nothing: their keys reach the logger only when a line is written.
  let pendingKeys: Record<string, string | undefined> | undefined;
  const applyKeys = () => {
    if (!pendingKeys) return;
    logger.resetKeys();
    const defined = Object.entries(pendingKeys).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    );
    if (defined.length > 0) logger.appendKeys(Object.fromEntries(defined));
    pendingKeys = undefined;
  };
  return {
    debug: (message, fields) => (applyKeys(), logger.debug(message, fields ?? {})),
    info: (message, fields) => (applyKeys(), logger.info(message, fields ?? {})),
    warn: (message, fields) => (applyKeys(), logger.warn(message, fields ?? {})),
    error: (message, fields) => (applyKeys(), logger.error(message, fields ?? {})),
    startInvocation(context, keys) {
      // At once, so that `cold_start` is true for the instance's first invocation only.
      if (context) logger.addContext(context);
      pendingKeys = keys;
    },
  };
}
