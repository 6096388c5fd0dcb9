import { MetricsSummary } from '../../sandbox/metrics-summary';
import type { MetricsRecorder } from '../../lambdas/rohrpost/metrics';
import { createMessageMetrics, createMetrics } from '../../lambdas/rohrpost/metrics';
import { metricLinesOf } from '../support/metric-lines';

describe("the sandbox's metrics summary", () => {
  /** What Powertools' Metrics writes for `emit`, as the functions write it. */
  async function emitted(emit: (metrics: MetricsRecorder) => void): Promise<string> {
    const lines = await metricLinesOf(() => {
      const metrics = createMetrics('rohrpost-notifications');
      emit(metrics);
      metrics.publish();
    });
    return lines.map((line) => JSON.stringify(line)).join('\n');
  }

  test('adds up counts and gives durations percentiles, from the lines the functions write', async () => {
    const summary = new MetricsSummary();
    summary.observe(await emitted((metrics) => metrics.count('RecordsFailed', 2)));
    summary.observe(
      await emitted((metrics) => {
        metrics.count('RecordsFailed', 1);
        for (let ms = 1; ms <= 100; ms++) metrics.milliseconds('LastPostLatency', ms);
      }),
    );
    expect(summary.snapshot()).toEqual({
      RecordsFailed: { unit: 'Count', sum: 3, samples: 2 },
      LastPostLatency: { unit: 'Milliseconds', sum: 5050, samples: 100, p50: 50, p99: 99, max: 100 },
    });
    expect(summary.format()).toEqual([
      'LastPostLatency: p50 50 ms, p99 99 ms, max 100 ms (100)',
      'RecordsFailed: 3',
    ]);
  });

  test('a metric counted by a dimension is summed per value and over all values', async () => {
    const summary = new MetricsSummary();
    const lines = await metricLinesOf(() => {
      const countMessage = createMessageMetrics('rohrpost-websocket');
      countMessage('ping', false);
      countMessage('ping', true);
      countMessage('note.create', false);
    });
    for (const line of lines) summary.observe(JSON.stringify(line));
    expect(summary.format()).toEqual([
      'HandlerErrors: 1',
      'HandlerErrors (type=note.create): 0',
      'HandlerErrors (type=ping): 1',
      'MessagesHandled: 3',
      'MessagesHandled (type=note.create): 1',
      'MessagesHandled (type=ping): 2',
    ]);
  });

  test('ignores log lines, and lines that only look like metrics', () => {
    const summary = new MetricsSummary();
    expect(summary.observe('{"level":"INFO","message":"hello"}')).toBe(false);
    expect(summary.observe('{"_aws": not json')).toBe(false);
    expect(summary.observe('plain text with "_aws" in it')).toBe(false);
    expect(summary.observe('{"message":"a log line","_aws":{}}')).toBe(false);
    expect(summary.snapshot()).toEqual({});
  });
});
