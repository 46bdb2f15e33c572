// Charts for the console: a time chart (uPlot, loaded on first use) and a sparkline (inline SVG,
// small enough for every row of a list).
import { lazy, Suspense } from "react";
import type { TimeChartProps } from "./charts/types";

const LazyTimeChart = lazy(() => import("./charts/TimeChart"));

/** A chart over time with a caption; `summary` is what a screen reader hears instead. */
export function TimeChart({ title, summary, testId, ...props }: TimeChartProps & { title: string; summary: string; testId: string }) {
  return (
    <figure className="chart" data-testid={testId}>
      <figcaption>{title}</figcaption>
      <p className="sr-only">{summary}</p>
      <Suspense fallback={<div className="chart-canvas chart-loading" style={{ height: (props.height ?? 220) + 40 }} />}>
        <LazyTimeChart {...props} />
      </Suspense>
    </figure>
  );
}

type SparkPoint = { runs: number; failures: number };

/** Runs per bucket as a line, buckets with failures marked; the title tells the totals. */
export function Sparkline({ points, label, width = 120, height = 28 }: { points: SparkPoint[]; label: string; width?: number; height?: number }) {
  const runs = points.reduce((total, p) => total + p.runs, 0);
  const failures = points.reduce((total, p) => total + p.failures, 0);
  const top = Math.max(1, ...points.map((p) => p.runs));
  const step = points.length > 1 ? (width - 4) / (points.length - 1) : 0;
  const x = (i: number) => 2 + i * step;
  const y = (value: number) => height - 2 - (value / top) * (height - 4);
  const line = points.map((p, i) => `${x(i).toFixed(1)},${y(p.runs).toFixed(1)}`).join(" ");
  const text = `${label}: ${runs} runs, ${failures} failed`;
  return (
    <svg className="sparkline" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={text} data-runs={runs} data-failures={failures}>
      <title>{text}</title>
      <polyline points={line} fill="none" className="spark-line" />
      {points.map((p, i) => (p.failures > 0 ? <circle key={i} cx={x(i)} cy={y(p.runs)} r={2.5} className="spark-fail" /> : null))}
    </svg>
  );
}
