import { MetricsSummary, PERCENTILE_RELATIVE_ERROR } from '../../sandbox/metrics-summary';
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
    const { RecordsFailed, LastPostLatency } = summary.snapshot();
    expect(RecordsFailed).toEqual({ unit: 'Count', sum: 3, samples: 2 });
    expect(LastPostLatency).toMatchObject({ unit: 'Milliseconds', sum: 5050, samples: 100, max: 100 });
    expect(LastPostLatency!.p50).toBeCloseTo(50, 0);
    expect(LastPostLatency!.p99).toBeCloseTo(99, 0);
    expect(summary.format()).toEqual([
      `LastPostLatency: p50 ${Number(LastPostLatency!.p50!.toPrecision(3))} ms, p99 ${Number(LastPostLatency!.p99!.toPrecision(3))} ms, max 100 ms (100)`,
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

  describe('percentiles, from a fixed set of buckets', () => {
    /** A line as the functions write it, with many values of one duration metric. */
    const durationLine = (values: readonly number[]) =>
      JSON.stringify({
        _aws: {
          Timestamp: 0,
          CloudWatchMetrics: [
            {
              Namespace: 'rohrpost',
              Dimensions: [['service']],
              Metrics: [{ Name: 'Latency', Unit: 'Milliseconds' }],
            },
          ],
        },
        service: 'rohrpost-notifications',
        Latency: values,
      });

    /** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so a failure can be replayed. */
    function random(seed: number): () => number {
      let state = seed;
      return () => {
        state = (state + 0x6d2b79f5) | 0;
        let t = Math.imul(state ^ (state >>> 15), 1 | state);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
    }

    /** The exact nearest-rank percentile. */
    const exact = (sorted: readonly number[], p: number) =>
      sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;

    test.each([
      ['whole milliseconds from 0 to 2,000', (next: () => number) => Math.floor(next() * 2_001)],
      [
        'log-normal around 20 ms',
        (next: () => number) =>
          20 * Math.exp(2 * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next())),
      ],
      [
        'mostly fast, a slow tail',
        (next: () => number) => (next() < 0.97 ? 2 + next() * 3 : 500 + next() * 29_500),
      ],
      ['sub-millisecond', (next: () => number) => next() * 0.9 + 0.001],
    ])('%s: p50 and p99 are within 1%% of the exact ones', (_name, draw) => {
      for (const seed of [1, 2, 3]) {
        const next = random(seed);
        const values = Array.from({ length: 30_000 }, () => draw(next));
        const summary = new MetricsSummary();
        for (let i = 0; i < values.length; i += 1_000)
          summary.observe(durationLine(values.slice(i, i + 1_000)));
        const sorted = [...values].sort((a, b) => a - b);
        const { Latency } = summary.snapshot();
        expect(Latency!.samples).toBe(values.length);
        expect(Latency!.max).toBe(sorted.at(-1));
        for (const [p, figure] of [
          [0.5, Latency!.p50!],
          [0.99, Latency!.p99!],
        ] as const) {
          const expected = exact(sorted, p);
          expect(Math.abs(figure - expected)).toBeLessThanOrEqual(
            PERCENTILE_RELATIVE_ERROR * expected + 1e-9,
          );
        }
      }
    });

    test('keep counting past any number of values, in the same space', () => {
      const summary = new MetricsSummary();
      for (let i = 0; i < 200; i++) summary.observe(durationLine(Array.from({ length: 1_000 }, () => 7)));
      expect(summary.snapshot().Latency).toMatchObject({ samples: 200_000, sum: 1_400_000, max: 7 });
      expect(summary.snapshot().Latency!.p50).toBeCloseTo(7, 1);
    });
  });
});
