/** A structured logger: one JSON object per line, as CloudWatch Logs Insights likes them. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
type Level = (typeof LEVELS)[number];

/**
 * A logger for one function. The threshold comes from `LOG_LEVEL`, else Lambda's
 * `AWS_LAMBDA_LOG_LEVEL`, else INFO. Values that are `Error`s are logged with their stack.
 */
export function createLogger(service: string): Logger {
  const configured = (process.env.LOG_LEVEL ?? process.env.AWS_LAMBDA_LOG_LEVEL ?? 'INFO').toUpperCase();
  const threshold = Math.max(0, LEVELS.indexOf(configured as Level));
  const write = (level: Level, message: string, fields?: Record<string, unknown>) => {
    if (LEVELS.indexOf(level) < threshold) return;
    const line = JSON.stringify(
      { level, message, service, timestamp: new Date().toISOString(), ...fields },
      serializeErrors,
    );
    if (level === 'ERROR') console.error(line);
    else if (level === 'WARN') console.warn(line);
    else console.log(line);
  };
  return {
    debug: (message, fields) => write('DEBUG', message, fields),
    info: (message, fields) => write('INFO', message, fields),
    warn: (message, fields) => write('WARN', message, fields),
    error: (message, fields) => write('ERROR', message, fields),
  };
}

function serializeErrors(_key: string, value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  return { name: value.name, message: value.message, stack: value.stack, cause: value.cause };
}
