import type { IncomingMessage, ServerResponse } from 'node:http';

/** Where the sandbox serves its summary, on the gateway's port. */
export const METRICS_PATH = '/.sandbox/metrics';
/** The dimension every rohrpost metric has, which tells the functions apart: left out of the names. */
const SERVICE_DIMENSION = 'service';
/** Values kept per metric for percentiles; older ones drop out. */
const MAX_VALUES = 10_000;

/** One metric since the sandbox started: counts are summed; durations get percentiles. */
export interface MetricFigures {
  readonly unit: string;
  readonly sum: number;
  readonly samples: number;
  readonly p50?: number;
  readonly p99?: number;
  readonly max?: number;
}

interface EmbeddedMetricLine {
  readonly _aws?: {
    readonly CloudWatchMetrics?: ReadonlyArray<{
      Dimensions?: string[][];
      Metrics?: Array<{ Name: string; Unit?: string }>;
    }>;
  };
  readonly [key: string]: unknown;
}

/**
 * The metrics the functions emit, read back from their output as CloudWatch would read it
 * (embedded metric format lines), so that a developer sees failures and latency locally.
 */
export class MetricsSummary {
  private readonly metrics = new Map<string, { unit: string; sum: number; values: number[] }>();

  /** Takes one line of a function's output; false, having taken nothing, for a line that is no metrics. */
  observe(line: string): boolean {
    if (!line.includes('"_aws"')) return false;
    let parsed: EmbeddedMetricLine;
    try {
      parsed = JSON.parse(line) as EmbeddedMetricLine;
    } catch {
      return false;
    }
    if (!parsed._aws?.CloudWatchMetrics) return false;
    for (const directive of parsed._aws.CloudWatchMetrics) {
      for (const { Name, Unit } of directive.Metrics ?? []) {
        const raw = parsed[Name];
        const values = (Array.isArray(raw) ? raw : [raw]).filter(
          (value): value is number => typeof value === 'number',
        );
        for (const dimensions of directive.Dimensions ?? [[]]) {
          this.add(seriesName(Name, dimensions, parsed), Unit ?? 'None', values);
        }
      }
    }
    return true;
  }

  private add(name: string, unit: string, values: readonly number[]): void {
    let entry = this.metrics.get(name);
    if (!entry) this.metrics.set(name, (entry = { unit, sum: 0, values: [] }));
    for (const value of values) {
      entry.sum += value;
      entry.values.push(value);
    }
    if (entry.values.length > MAX_VALUES) entry.values.splice(0, entry.values.length - MAX_VALUES);
  }

  /** Every metric seen so far, by name, in order of their names. */
  snapshot(): Record<string, MetricFigures> {
    const figures: Record<string, MetricFigures> = {};
    for (const [name, { unit, sum, values }] of [...this.metrics].sort(([a], [b]) => a.localeCompare(b))) {
      const timed = unit === 'Milliseconds' && values.length > 0;
      const sorted = timed ? [...values].sort((a, b) => a - b) : [];
      const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
      figures[name] = {
        unit,
        sum,
        samples: values.length,
        ...(timed && { p50: at(0.5), p99: at(0.99), max: sorted.at(-1)! }),
      };
    }
    return figures;
  }

  /** One line per metric, for the console. */
  format(): string[] {
    return Object.entries(this.snapshot()).map(([name, figures]) =>
      figures.p50 === undefined
        ? `${name}: ${figures.sum}`
        : `${name}: p50 ${figures.p50} ms, p99 ${figures.p99} ms, max ${figures.max} ms (${figures.samples})`,
    );
  }

  /** Serves the snapshot as JSON; false, having written nothing, for any other request. */
  serve(request: IncomingMessage, response: ServerResponse): boolean {
    if (request.method !== 'GET' || request.url !== METRICS_PATH) return false;
    response
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify(this.snapshot(), null, 2));
    return true;
  }
}

/** `MessagesHandled` for the total, `MessagesHandled (type=ping)` for one dimension's value. */
function seriesName(metric: string, dimensions: readonly string[], line: EmbeddedMetricLine): string {
  const shown = dimensions.filter((dimension) => dimension !== SERVICE_DIMENSION);
  if (shown.length === 0) return metric;
  return `${metric} (${shown.map((dimension) => `${dimension}=${String(line[dimension])}`).join(', ')})`;
}
