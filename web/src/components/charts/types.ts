// The props of the lazily loaded chart, kept apart so pages type them without loading uPlot.
export type ChartSeries = {
  label: string;
  values: (number | null)[];
  colour: "accent" | "ok" | "bad" | "warn" | "info";
  kind?: "line" | "bars" | "points";
  scale?: string;
  points?: boolean;
  spanGaps?: boolean;
  format?: (value: number) => string;
};

export type ChartAxis = {
  scale: string;
  label: string;
  side?: 1 | 3;
  range?: [number, number];
  atLeast?: number;
  format?: (value: number) => string;
};

export type TimeChartProps = {
  /** Times in seconds since the epoch, ascending. */
  x: number[];
  series: ChartSeries[];
  axes: ChartAxis[];
  height?: number;
};
