/** Types of the parser the metrics test checks the exposition format with (it ships none). */
declare module 'parse-prometheus-text-format' {
  /** One sample of a counter or gauge. */
  export interface Sample {
    labels?: Record<string, string>;
    value: string;
  }
  /** One sample of a histogram. */
  export interface HistogramSample {
    labels?: Record<string, string>;
    buckets: Record<string, string>;
    count: string;
    sum: string;
  }
  /** A metric family, as prom2json gives it. */
  export interface MetricFamily {
    name: string;
    help: string;
    type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
    metrics: Array<Sample | HistogramSample>;
  }
  /** Parse Prometheus' text format; throws on malformed input. */
  export default function parsePrometheusTextFormat(text: string): MetricFamily[];
}
