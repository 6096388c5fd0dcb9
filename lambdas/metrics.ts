import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE } from './metric-names';

/** Counts for one invocation, written as one CloudWatch embedded-metric-format line: no API call. */
export interface MetricsRecorder {
  count(name: string, value: number): void;
  milliseconds(name: string, value: number): void;
  /** Writes what was counted since the last publish. */
  publish(): void;
}

/** Powertools' Metrics, in rohrpost's namespace with `service` as the dimension. */
export function createMetrics(service: string): MetricsRecorder {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: service });
  return {
    count: (name, value) => metrics.addMetric(name, MetricUnit.Count, value),
    milliseconds: (name, value) => metrics.addMetric(name, MetricUnit.Milliseconds, value),
    publish: () => metrics.publishStoredMetrics(),
  };
}
