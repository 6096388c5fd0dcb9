import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { createMessageMetrics } from '../../lambdas/rohrpost/metrics';
import { metricLinesOf } from '../support/metric-lines';

describe("the websocket function's line per message", () => {
  /** What Powertools' Metrics writes for the same message. */
  function powertoolsLine(type: string, handlerErrors: number): void {
    const metrics = new Metrics({
      namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || 'rohrpost',
      serviceName: 'rohrpost-websocket',
    });
    metrics.addDimension('type', type);
    metrics.addDimensions({});
    metrics.addMetric('MessagesHandled', MetricUnit.Count, 1);
    metrics.addMetric('HandlerErrors', MetricUnit.Count, handlerErrors);
    metrics.publishStoredMetrics();
  }

  test.each([
    ['ping', false, undefined],
    ['note.create', true, 'rohrpost/Prod'],
    ['"quoted" \\ and ünïcode', false, undefined],
  ])(
    'is the line Powertools writes: type %j, handler error %s, namespace %s',
    async (type, failed, namespace) => {
      const before = Date.now();
      const lines = await metricLinesOf(() => {
        if (namespace) process.env.POWERTOOLS_METRICS_NAMESPACE = namespace;
        try {
          createMessageMetrics('rohrpost-websocket')(type, failed);
          powertoolsLine(type, failed ? 1 : 0);
        } finally {
          delete process.env.POWERTOOLS_METRICS_NAMESPACE;
        }
      });
      expect(lines).toHaveLength(2);
      const [ours, theirs] = lines.map((line) => {
        const { Timestamp, ...rest } = (line as { _aws: { Timestamp: number } })._aws;
        expect(Timestamp).toBeGreaterThanOrEqual(before);
        expect(Timestamp).toBeLessThanOrEqual(Date.now());
        return { ...line, _aws: rest };
      });
      expect(ours).toEqual(theirs);
      expect(ours).toMatchObject({
        type,
        _aws: { CloudWatchMetrics: [{ Namespace: namespace ?? 'rohrpost' }] },
      });
    },
  );

  test.each(['TRUE', '1', 'yes', ' on '])(
    'writes nothing when POWERTOOLS_METRICS_DISABLED is %j, as Powertools does',
    async (disabled) => {
      const lines = await metricLinesOf(() => {
        process.env.POWERTOOLS_METRICS_DISABLED = disabled;
        createMessageMetrics('rohrpost-websocket')('ping', false);
        powertoolsLine('ping', 0);
      });
      expect(lines).toEqual([]);
    },
  );

  test('writes its line when POWERTOOLS_METRICS_DISABLED is false, as Powertools does', async () => {
    const lines = await metricLinesOf(() => {
      process.env.POWERTOOLS_METRICS_DISABLED = 'false';
      createMessageMetrics('rohrpost-websocket')('ping', false);
      powertoolsLine('ping', 0);
    });
    expect(lines).toHaveLength(2);
  });
});
