import { describe, expect, it } from "vitest";
import { sortJobs, type SortableJob } from "./jobStatus";

const jobs: SortableJob[] = [
  { name: "a", namespace: "default", status: "UP", nextRunAt: "2026-12-01T03:00:00Z", lastRun: { startedAt: "2026-11-30T03:00:00Z" } },
  { name: "b", namespace: "default", status: "DOWN", nextRunAt: "2026-12-01T01:00:00Z", lastRun: null },
  { name: "c", namespace: "ops", status: "LATE", nextRunAt: null, lastRun: { startedAt: "2026-12-01T00:00:00Z" } },
];

describe("sortJobs", () => {
  it("puts the jobs that need attention first when sorted by status", () => {
    expect(sortJobs(jobs, "status").map((j) => j.name)).toEqual(["b", "c", "a"]);
  });
  it("sorts by next run soonest first and by last run newest first, never-run last", () => {
    expect(sortJobs(jobs, "nextRun").map((j) => j.name)).toEqual(["b", "a", "c"]);
    expect(sortJobs(jobs, "lastRun").map((j) => j.name)).toEqual(["c", "a", "b"]);
  });
  it("reverses on request", () => {
    expect(sortJobs(jobs, "name", true).map((j) => j.name)).toEqual(["c", "b", "a"]);
  });
});

describe("unknown jobs", () => {
  it("are those with neither a status nor a name", async () => {
    const { isUnknownJob } = await import("./jobStatus");
    expect(isUnknownJob({ status: null, jobName: null })).toBe(true);
    expect(isUnknownJob({ status: "UP", jobName: "backup" })).toBe(false);
  });
});
