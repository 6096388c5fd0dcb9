import { createMetrics } from '../../lambdas/metrics';
import { MetricsSummary } from '../../sandbox/metrics-summary';

describe("the sandbox's metrics summary", () => {
  /** What Powertools' Metrics writes for `emit`, as the functions write it. */
  function emitted(emit: (metrics: ReturnType<typeof createMetrics>) => void): string {
    const written: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      const metrics = createMetrics('rohrpost-notifications');
      emit(metrics);
      metrics.publish();
    } finally {
      spy.mockRestore();
    }
    return written.join('').trim();
  }

  test('adds up counts and gives durations percentiles, from the lines the functions write', () => {
    const summary = new MetricsSummary();
    summary.observe(emitted((metrics) => metrics.count('RecordsFailed', 2)));
    summary.observe(
      emitted((metrics) => {
        metrics.count('RecordsFailed', 1);
        for (let ms = 1; ms <= 100; ms++) metrics.milliseconds('NotificationLatency', ms);
      }),
    );
    expect(summary.snapshot()).toEqual({
      RecordsFailed: { unit: 'Count', sum: 3, samples: 2 },
      NotificationLatency: { unit: 'Milliseconds', sum: 5050, samples: 100, p50: 50, p99: 99, max: 100 },
    });
    expect(summary.format()).toEqual([
      'RecordsFailed: 3',
      'NotificationLatency: p50 50 ms, p99 99 ms, max 100 ms (100)',
    ]);
  });

  test('ignores log lines, and lines that only look like metrics', () => {
    const summary = new MetricsSummary();
    summary.observe('{"level":"INFO","message":"hello"}');
    summary.observe('{"_aws": not json');
    summary.observe('plain text with "_aws" in it');
    expect(summary.snapshot()).toEqual({});
  });
});
