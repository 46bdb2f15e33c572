// Shaping runs and health series into chart data.
import type { ChartSeries } from "../components/charts/types";
import type { RunRow } from "./runs";
import { formatDuration } from "./format";

const seconds = (iso: string) => Date.parse(iso) / 1000;

/** Durations of finished runs, oldest first, with the failed ones also marked apart. */
export function durationChart(runs: RunRow[]): { x: number[]; series: ChartSeries[]; failed: number } {
  const finished = runs.filter((r) => r.status !== "RUNNING" && (r.durationMs != null || r.status !== "SUCCESS"));
  const sorted = [...finished].sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
  const failedValues = sorted.map((r) => (r.status === "SUCCESS" ? null : (r.durationMs ?? 0)));
  return {
    x: sorted.map((r) => seconds(r.startedAt)),
    series: [
      { label: "Duration", values: sorted.map((r) => r.durationMs ?? null), colour: "accent", points: true, spanGaps: true, format: formatDuration, scale: "ms" },
      { label: "Failed", values: failedValues, colour: "bad", kind: "points", format: formatDuration, scale: "ms" },
    ],
    failed: failedValues.filter((v) => v != null).length,
  };
}

export type SeriesPoint = { at: string; runs: number; failures: number; successRate?: number | null };

/** Runs per bucket as bars and the success rate (in %) as a line, on two scales. */
export function healthChart(points: SeriesPoint[]): { x: number[]; runs: ChartSeries; rate: ChartSeries } {
  return {
    x: points.map((p) => seconds(p.at)),
    // An empty bucket is a gap, not a bar of height zero drawn as a line along the axis.
    runs: { label: "Runs", values: points.map((p) => p.runs || null), colour: "info", kind: "bars", scale: "runs" },
    rate: {
      label: "Success",
      values: points.map((p) => (p.successRate == null ? null : Math.round(p.successRate * 1000) / 10)),
      colour: "ok",
      scale: "rate",
      points: true,
      spanGaps: true,
      format: (v) => `${v}%`,
    },
  };
}
