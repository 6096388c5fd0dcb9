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
  // Most invocations log nothing, and handing Powertools an invocation's context and keys costs
  // more than handling a ping (bench:handler prints it): they reach it when a line is written.
  let pendingContext: Context | undefined;
  let pendingKeys: Record<string, string | undefined> | undefined;
  let coldStartDecided = false;
  const applyInvocation = () => {
    if (!pendingKeys) return;
    if (pendingContext) logger.addContext(pendingContext);
    logger.resetKeys();
    const defined = Object.entries(pendingKeys).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    );
    if (defined.length > 0) logger.appendKeys(Object.fromEntries(defined));
    pendingContext = undefined;
    pendingKeys = undefined;
  };
  return {
    debug: (message, fields) => (applyInvocation(), logger.debug(message, fields ?? {})),
    info: (message, fields) => (applyInvocation(), logger.info(message, fields ?? {})),
    warn: (message, fields) => (applyInvocation(), logger.warn(message, fields ?? {})),
    error: (message, fields) => (applyInvocation(), logger.error(message, fields ?? {})),
    startInvocation(context, keys) {
      pendingKeys = keys;
      pendingContext = context;
      if (context && !coldStartDecided) {
        // Powertools takes `cold_start` to be true at its first `addContext` only: that must be
        // the instance's first invocation, whether or not it writes a line.
        logger.addContext(context);
        pendingContext = undefined;
        coldStartDecided = true;
      }
    },
  };
}
