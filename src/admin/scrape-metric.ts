/**
 * A metric whose samples are computed when Prometheus scrapes, from state the gateway keeps
 * anyway (pools, counters, the CRL): nothing is recorded on the data path for it. prom-client's
 * registry only needs `name` and `get()` from a metric (lib/registry.js), which this provides.
 */
import type { Metric, Registry } from 'prom-client';
import { DURATION_BOUNDS_MS, type DurationHistogram } from '../util/duration-histogram.js';

export type Labels = Record<string, string>;

export interface Sample {
  labels: Labels;
  value: number;
  /** For histograms: name_bucket, name_sum, name_count. */
  metricName?: string;
}

export type ScrapeType = 'gauge' | 'counter' | 'histogram';

/**
 * How a cluster primary merges the workers' samples (prom-client AggregatorRegistry): `sum` for
 * counts, `max` or `first` for what every worker reports alike (the CRL, a certificate's expiry).
 */
export type Aggregator = 'sum' | 'max' | 'min' | 'first';

export class ScrapeMetric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: ScrapeType,
    private readonly read: () => Sample[],
    readonly aggregator: Aggregator = 'sum',
  ) {}

  get(): Promise<{ name: string; help: string; type: ScrapeType; aggregator: Aggregator; values: Sample[] }> {
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.read() });
  }

  register(registry: Registry): this {
    // prom-client types registerMetric for its own four classes; the registry itself only calls get().
    registry.registerMetric(this as unknown as Metric);
    return this;
  }
}

const LE = [...DURATION_BOUNDS_MS.map((ms) => String(ms / 1000)), '+Inf'];

/** The samples of one DurationHistogram (milliseconds) written out in seconds. */
export function histogramSamples(name: string, labels: Labels, h: DurationHistogram): Sample[] {
  const out: Sample[] = [];
  const cumulative = h.cumulative();
  for (let i = 0; i < LE.length; i++) out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: LE[i]! }, value: cumulative[i]! });
  out.push({ metricName: `${name}_sum`, labels, value: h.sumMs / 1000 });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
  return out;
}
