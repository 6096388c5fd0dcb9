import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  AuthorizerMetrics,
  MESSAGE_TYPE_DIMENSION,
  METRICS_NAMESPACE,
  REFUSAL_REASON_DIMENSION,
  WebSocketMetrics,
} from './metric-names';

/** Counts for one invocation, written as one CloudWatch embedded-metric-format line: no API call. */
export interface MetricsRecorder {
  count(name: string, value: number): void;
  milliseconds(name: string, value: number): void;
  /** Writes what was counted since the last publish; nothing when nothing was. */
  publish(): void;
}

/** The namespace the stack gives (POWERTOOLS_METRICS_NAMESPACE), else `rohrpost`. */
function namespace(): string {
  return process.env.POWERTOOLS_METRICS_NAMESPACE || METRICS_NAMESPACE;
}

/** Powertools' Metrics with `service` as the dimension. */
export function createMetrics(service: string): MetricsRecorder {
  const metrics = new Metrics({ namespace: namespace(), serviceName: service });
  return {
    count: (name, value) => metrics.addMetric(name, MetricUnit.Count, value),
    milliseconds: (name, value) => metrics.addMetric(name, MetricUnit.Milliseconds, value),
    publish: () => {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    },
  };
}

/** What Powertools reads as true in its environment variables. */
const POWERTOOLS_TRUE = new Set(['1', 'y', 'yes', 't', 'true', 'on']);

/**
 * Counts one message, by its type and over all types, with whether its client got an internal
 * error. The types come from a bounded set (the registered ones and a few fixed names).
 */
export type MessageMetrics = (type: string, handlerError: boolean) => void;

/**
 * The websocket function's line per message, written directly: Powertools' Metrics takes about
 * 10 µs per message more to build this one line, several times what handling a `ping` costs
 * (bench:handler measures both). The line is the one Powertools writes for `addDimension(type)`,
 * `addDimensions({})` and the two counts, and test/unit/metrics.test.ts holds it to that. Like
 * Powertools, it writes nothing when POWERTOOLS_METRICS_DISABLED is true.
 */
export function createMessageMetrics(service: string): MessageMetrics {
  const disabled = process.env.POWERTOOLS_METRICS_DISABLED?.trim().toLowerCase();
  if (disabled && POWERTOOLS_TRUE.has(disabled)) return () => undefined;
  const directive = JSON.stringify([
    {
      Namespace: namespace(),
      Dimensions: [['service', MESSAGE_TYPE_DIMENSION], ['service']],
      Metrics: [
        { Name: WebSocketMetrics.messagesHandled, Unit: MetricUnit.Count },
        { Name: WebSocketMetrics.handlerErrors, Unit: MetricUnit.Count },
      ],
    },
  ]);
  const middle = `,"CloudWatchMetrics":${directive}},"service":${JSON.stringify(service)},"${MESSAGE_TYPE_DIMENSION}":`;
  const counts = `,"${WebSocketMetrics.messagesHandled}":1,"${WebSocketMetrics.handlerErrors}":`;
  // Everything after the timestamp, by type: [no handler error, handler error].
  const tails = new Map<string, readonly [string, string]>();
  const tailOf = (type: string, handlerError: boolean): string => {
    let pair = tails.get(type);
    if (!pair) {
      const start = `${middle}${JSON.stringify(type)}${counts}`;
      pair = [`${start}0}\n`, `${start}1}\n`];
      tails.set(type, pair);
    }
    return pair[handlerError ? 1 : 0];
  };
  // Looked up once: `process.stdout` is a getter, about a quarter of what the line costs.
  const stdout = process.stdout;
  // Messages of one type in one millisecond share their line: built once, written as often.
  let lastTimestamp = -1;
  let lastType: string | undefined;
  let lastHandlerError = false;
  let lastLine = '';
  return (type, handlerError) => {
    const timestamp = Date.now();
    if (timestamp !== lastTimestamp || type !== lastType || handlerError !== lastHandlerError) {
      lastLine = `{"_aws":{"Timestamp":${timestamp}${tailOf(type, handlerError)}`;
      lastTimestamp = timestamp;
      lastType = type;
      lastHandlerError = handlerError;
    }
    stdout.write(lastLine);
  };
}

/** What an authorizer counts: one line per connection attempt, through Powertools' Metrics. */
export interface AuthorizerMetricsRecorder {
  allowed(): void;
  /** Counted in total and by `reason`, one of a fixed set. */
  refused(reason: string): void;
  failed(): void;
}

/** An authorizer's counts, published as they happen: an authorizer handles one connection per invocation. */
export function createAuthorizerMetrics(service: string): AuthorizerMetricsRecorder {
  const metrics = new Metrics({ namespace: namespace(), serviceName: service });
  const count = (name: string, reason?: string) => {
    if (reason !== undefined) {
      // By reason, and (an empty extra set) over all reasons, which the alarm reads.
      metrics.addDimension(REFUSAL_REASON_DIMENSION, reason);
      metrics.addDimensions({});
    }
    metrics.addMetric(name, MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
  };
  return {
    allowed: () => count(AuthorizerMetrics.connectionsAllowed),
    refused: (reason) => count(AuthorizerMetrics.connectionsRefused, reason),
    failed: () => count(AuthorizerMetrics.authorizerFailures),
  };
}
