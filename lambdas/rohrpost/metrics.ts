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

/** Counts one message, by its type and over all types, with whether its client got an internal error. */
export type MessageMetrics = (type: string, handlerError: boolean) => void;

/**
 * The websocket function's line per message, written directly: Powertools' Metrics took 8.5 µs
 * per message to build this one line in bench:handler, five times what handling a `ping` costs;
 * this takes 0.4 µs (bench:handler prints it). The line is the one Powertools writes for `addDimension(type)`, `addDimensions({})`
 * and the two counts, and test/unit/metrics.test.ts holds it to that. Like Powertools, it
 * writes nothing when POWERTOOLS_METRICS_DISABLED is true.
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
  return (type, handlerError) => {
    process.stdout.write(
      `{"_aws":{"Timestamp":${Date.now()}${middle}${JSON.stringify(type)}${counts}${handlerError ? 1 : 0}}\n`,
    );
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
