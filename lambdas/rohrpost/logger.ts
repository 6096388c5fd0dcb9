import type { Context } from 'aws-lambda';
import type * as PowertoolsLoggerModule from './powertools-logger';
import type { Logger as PowertoolsLogger } from './powertools-logger';

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
  // Powertools' Logger is loaded with the first line: its module imports node:crypto, which takes
  // about as long to load as the rest of the function (bench:cold-start), and most instances
  // write no line. Most invocations log nothing either, and handing Powertools an invocation's
  // context and keys costs more than handling a ping (bench:handler prints it): they reach it
  // when a line is written.
  let logger: PowertoolsLogger | undefined;
  let invocations = 0;
  let pendingContext: Context | undefined;
  let pendingKeys: Record<string, string | undefined> | undefined;
  const powertools = (): PowertoolsLogger => {
    if (logger) return logger;
    const { Logger } = require('./powertools-logger') as typeof PowertoolsLoggerModule;
    const made = new Logger({ serviceName: service });
    logger = invocations > 1 ? made.madeAfterColdStart() : made;
    return logger;
  };
  const line = (): PowertoolsLogger => {
    const current = powertools();
    if (!pendingKeys) return current;
    if (pendingContext) current.addContext(pendingContext);
    current.resetKeys();
    const defined = Object.entries(pendingKeys).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    );
    if (defined.length > 0) current.appendKeys(Object.fromEntries(defined));
    pendingContext = undefined;
    pendingKeys = undefined;
    return current;
  };
  return {
    debug: (message, fields) => line().debug(message, fields ?? {}),
    info: (message, fields) => line().info(message, fields ?? {}),
    warn: (message, fields) => line().warn(message, fields ?? {}),
    error: (message, fields) => line().error(message, fields ?? {}),
    startInvocation(context, keys) {
      pendingKeys = keys;
      pendingContext = context;
      if (context) invocations++;
    },
  };
}
