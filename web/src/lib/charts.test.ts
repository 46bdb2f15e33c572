import { describe, expect, it } from "vitest";
import { durationChart, healthChart } from "./charts";
import type { RunRow } from "./runs";

const run = (startedAt: string, status: string, durationMs: number | null): RunRow =>
  ({ id: startedAt, jobId: "j", status, startedAt, durationMs }) as unknown as RunRow;

describe("durationChart", () => {
  it("puts finished runs oldest first and marks the failed ones", () => {
    const chart = durationChart([
      run("2026-01-01T00:02:00Z", "FAILURE", 300),
      run("2026-01-01T00:03:00Z", "RUNNING", null),
      run("2026-01-01T00:01:00Z", "SUCCESS", 100),
      run("2026-01-01T00:04:00Z", "MISSED", null),
    ]);
    expect(chart.x).toEqual([1767225660, 1767225720, 1767225840]);
    expect(chart.series[0].values).toEqual([100, 300, null]);
    expect(chart.series[1].values).toEqual([null, 300, 0]);
    expect(chart.failed).toBe(2);
  });
});

describe("healthChart", () => {
  it("gives runs per bucket and the success rate in percent, gaps where nothing ran", () => {
    const chart = healthChart([
      { at: "2026-01-01T00:00:00Z", runs: 4, failures: 1, successRate: 0.75 },
      { at: "2026-01-01T01:00:00Z", runs: 0, failures: 0, successRate: null },
    ]);
    expect(chart.runs.values).toEqual([4, null]);
    expect(chart.rate.values).toEqual([75, null]);
  });
});
