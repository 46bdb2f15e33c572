// A time-series chart drawn by uPlot on a canvas. Loaded on demand (see ../Charts.tsx): uPlot and
// its stylesheet stay out of the console's first download.
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { ChartSeries, TimeChartProps } from "./types";

/** The theme's colour for a series, read from the CSS custom properties of the two themes. */
function colour(name: ChartSeries["colour"] | "muted" | "border"): string {
  return getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim() || "#888";
}

function seriesOptions(series: ChartSeries): uPlot.Series {
  const stroke = colour(series.colour);
  const base: uPlot.Series = { label: series.label, stroke, scale: series.scale ?? "y", value: (_u, v) => (v == null ? "—" : series.format ? series.format(v) : String(v)) };
  if (series.kind === "points") {
    // Marks only, no line: failures on a duration chart.
    return { ...base, paths: () => null, points: { show: true, size: 9, fill: stroke, stroke, width: 1 } };
  }
  if (series.kind === "bars") {
    return { ...base, fill: `${stroke}66`, width: 1, paths: uPlot.paths.bars!({ size: [0.7, 40] }), points: { show: false } };
  }
  return { ...base, width: 2, spanGaps: series.spanGaps ?? false, points: { show: series.points ?? false, size: 6, fill: stroke } };
}

function options(props: TimeChartProps, width: number): uPlot.Options {
  const text = colour("muted");
  const grid = colour("border");
  // Half a step of room at each end, so the first and last bars (the current hour) show whole.
  const scales: uPlot.Scales = {
    x: {
      time: true,
      range: (u, min, max) => {
        const xs = u.data[0];
        const step = xs.length > 1 ? (xs[xs.length - 1] - xs[0]) / (xs.length - 1) : 60;
        return [min - step / 2, max + step / 2];
      },
    },
  };
  const axes: uPlot.Axis[] = [{ stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } }];
  for (const axis of props.axes) {
    scales[axis.scale] = axis.range ? { range: () => axis.range! } : { range: (_u, _min, max) => [0, Math.max(max ?? 1, axis.atLeast ?? 1)] };
    axes.push({
      scale: axis.scale,
      side: axis.side ?? 3,
      label: axis.label,
      stroke: text,
      size: 56,
      grid: { show: axis.side !== 1, stroke: grid, width: 1 },
      ticks: { stroke: grid },
      values: axis.format ? (_u, ticks) => ticks.map((t) => axis.format!(t)) : undefined,
    });
  }
  return {
    width,
    height: props.height ?? 220,
    scales,
    axes,
    legend: { show: true, live: true },
    cursor: { points: { size: 6 } },
    series: [{}, ...props.series.map(seriesOptions)],
  };
}

export default function TimeChart(props: TimeChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data = [props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData;
  const shape = JSON.stringify([props.series.map((s) => [s.label, s.kind, s.colour]), props.axes.map((a) => [a.scale, a.label, a.range]), props.height]);

  // (Re)build the chart when its shape or the theme changes; data alone updates in place.
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const build = () => {
      plot.current?.destroy();
      plot.current = new uPlot(options(props, Math.max(element.clientWidth, 200)), data, element);
    };
    build();
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(element.clientWidth, 200), height: props.height ?? 220 }));
    resize.observe(element);
    const theme = new MutationObserver(build);
    theme.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
    return () => {
      resize.disconnect();
      theme.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- rebuilt on shape, fed below
  }, [shape]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  return <div ref={box} className="chart-canvas" data-points={props.x.length} />;
}
