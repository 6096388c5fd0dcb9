import type { IncomingMessage, ServerResponse } from 'node:http';

/** Where the sandbox serves its summary, on the gateway's port. */
export const METRICS_PATH = '/.sandbox/metrics';
/** The dimension every rohrpost metric has, which tells the functions apart: left out of the names. */
const SERVICE_DIMENSION = 'service';

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
  private readonly metrics = new Map<
    string,
    { unit: string; sum: number; samples: number; durations?: DurationHistogram }
  >();

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
    if (!entry) {
      entry = { unit, sum: 0, samples: 0 };
      if (unit === 'Milliseconds') entry.durations = new DurationHistogram();
      this.metrics.set(name, entry);
    }
    for (const value of values) {
      entry.sum += value;
      entry.samples++;
      entry.durations?.add(value);
    }
  }

  /** Every metric seen so far, by name, in order of their names. */
  snapshot(): Record<string, MetricFigures> {
    const figures: Record<string, MetricFigures> = {};
    for (const [name, { unit, sum, samples, durations }] of [...this.metrics].sort(([a], [b]) =>
      a.localeCompare(b),
    )) {
      const timed = durations !== undefined && samples > 0;
      figures[name] = {
        unit,
        sum,
        samples,
        ...(timed && { p50: durations.percentile(0.5), p99: durations.percentile(0.99), max: durations.max }),
      };
    }
    return figures;
  }

  /** One line per metric, for the console. */
  format(): string[] {
    const ms = (value: number | undefined) => `${Number(value!.toPrecision(3))} ms`;
    return Object.entries(this.snapshot()).map(([name, figures]) =>
      figures.p50 === undefined
        ? `${name}: ${figures.sum}`
        : `${name}: p50 ${ms(figures.p50)}, p99 ${ms(figures.p99)}, max ${ms(figures.max)} (${figures.samples})`,
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

/** The relative error of a percentile read from a DurationHistogram. */
export const PERCENTILE_RELATIVE_ERROR = 0.01;
/** Durations a DurationHistogram tells apart, in ms: 1 µs to about 11.6 days. */
const SMALLEST_DURATION = 1e-3;
const LARGEST_DURATION = 1e9;
/** Bucket i holds the durations in (GAMMA^(i-1), GAMMA^i]. */
const GAMMA = (1 + PERCENTILE_RELATIVE_ERROR) / (1 - PERCENTILE_RELATIVE_ERROR);
const LOG_GAMMA = Math.log(GAMMA);
const LOWEST_INDEX = Math.ceil(Math.log(SMALLEST_DURATION) / LOG_GAMMA);
const BUCKETS = Math.ceil(Math.log(LARGEST_DURATION) / LOG_GAMMA) - LOWEST_INDEX + 1;

/**
 * Durations in a fixed set of log-spaced buckets, DDSketch's mapping: a duration goes into the
 * bucket (GAMMA^(i-1), GAMMA^i] that holds it, in constant time, and a bucket's representative,
 * 2 GAMMA^i / (GAMMA + 1), is within PERCENTILE_RELATIVE_ERROR (1%) of every duration in it. A
 * percentile (nearest rank) is the representative of the bucket its rank falls in, so it is
 * within 1% of the exact one, between SMALLEST_DURATION and LARGEST_DURATION; 0 and below count
 * as 0, and durations beyond that range in the outermost buckets. The maximum is exact.
 */
class DurationHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private zeros = 0;
  private total = 0;
  private smallest = Infinity;
  max = -Infinity;

  add(duration: number): void {
    this.total++;
    this.smallest = Math.min(this.smallest, duration);
    this.max = Math.max(this.max, duration);
    if (duration <= 0) {
      this.zeros++;
      return;
    }
    const index = Math.ceil(Math.log(duration) / LOG_GAMMA) - LOWEST_INDEX;
    this.counts[Math.min(BUCKETS - 1, Math.max(0, index))]!++;
  }

  /** The `p`-th quantile (0 < p <= 1) by nearest rank, within PERCENTILE_RELATIVE_ERROR. */
  percentile(p: number): number {
    const rank = Math.max(1, Math.ceil(p * this.total));
    let seen = this.zeros;
    if (seen >= rank) return Math.max(this.smallest, 0);
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.counts[bucket]!;
      if (seen >= rank) {
        const representative = (2 * GAMMA ** (bucket + LOWEST_INDEX)) / (GAMMA + 1);
        return Math.min(this.max, Math.max(this.smallest, representative));
      }
    }
    return this.max;
  }
}

/** `MessagesHandled` for the total, `MessagesHandled (type=ping)` for one dimension's value. */
function seriesName(metric: string, dimensions: readonly string[], line: EmbeddedMetricLine): string {
  const shown = dimensions.filter((dimension) => dimension !== SERVICE_DIMENSION);
  if (shown.length === 0) return metric;
  return `${metric} (${shown.map((dimension) => `${dimension}=${String(line[dimension])}`).join(', ')})`;
}
