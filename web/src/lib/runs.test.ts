import { describe, expect, it } from "vitest";
import { matchesFilter, mergeRuns, type RunRow } from "./runs";

const run = (id: string, startedAt: string, extra: Partial<RunRow> = {}): RunRow => ({
  id,
  jobId: "job-1",
  jobName: "backup",
  namespace: "default",
  endpointId: null,
  status: "SUCCESS",
  startedAt,
  finishedAt: startedAt,
  durationMs: 100,
  exitCode: 0,
  unknownJob: false,
  stuck: false,
  trigger: "SCHEDULE",
  ...extra,
});

describe("mergeRuns", () => {
  it("puts a new run on top", () => {
    const old = [run("a", "2026-01-01T10:00:00Z")];
    const merged = mergeRuns(old, [run("b", "2026-01-01T11:00:00Z")]);
    expect(merged.map((r) => r.id)).toEqual(["b", "a"]);
  });

  it("replaces a running run in place when it finishes", () => {
    const old = [run("b", "2026-01-01T11:00:00Z"), run("a", "2026-01-01T10:00:00Z", { status: "RUNNING" })];
    const merged = mergeRuns(old, [run("a", "2026-01-01T10:00:00Z", { status: "FAILURE", exitCode: 2 })]);
    expect(merged.map((r) => [r.id, r.status])).toEqual([
      ["b", "SUCCESS"],
      ["a", "FAILURE"],
    ]);
  });

  it("files a late spooled run under its own start time", () => {
    const old = [run("b", "2026-01-01T11:00:00Z"), run("a", "2026-01-01T09:00:00Z")];
    const merged = mergeRuns(old, [run("late", "2026-01-01T10:00:00Z")]);
    expect(merged.map((r) => r.id)).toEqual(["b", "late", "a"]);
  });

  it("drops runs that stop matching the filter and keeps out those that never did", () => {
    const old = [run("a", "2026-01-01T10:00:00Z", { status: "RUNNING" })];
    const merged = mergeRuns(
      old,
      [run("a", "2026-01-01T10:00:00Z", { status: "SUCCESS" }), run("b", "2026-01-01T11:00:00Z", { status: "SUCCESS" })],
      { status: "RUNNING" },
    );
    expect(merged).toEqual([]);
  });

  it("keeps at most the limit, newest first", () => {
    const incoming = Array.from({ length: 20 }, (_, i) => run(`r${i}`, new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString()));
    const merged = mergeRuns([], incoming, null, 5);
    expect(merged.map((r) => r.id)).toEqual(["r19", "r18", "r17", "r16", "r15"]);
  });

  it("returns the same list when nothing arrived, so React skips a render", () => {
    const old = [run("a", "2026-01-01T10:00:00Z")];
    expect(mergeRuns(old, [])).toBe(old);
  });
});

describe("matchesFilter", () => {
  it("applies every given field with AND", () => {
    const r = run("a", "2026-01-01T10:00:00Z", { namespace: "backup", status: "FAILURE" });
    expect(matchesFilter(r, { namespace: "backup", status: "FAILURE" })).toBe(true);
    expect(matchesFilter(r, { namespace: "backup", status: "SUCCESS" })).toBe(false);
    expect(matchesFilter(r, { since: "2026-01-01T11:00:00Z" })).toBe(false);
    expect(matchesFilter(r, { until: "2026-01-01T11:00:00Z" })).toBe(true);
  });
});

describe("matchesFilter on part of a job name", () => {
  it("keeps runs whose job name holds the text in any case", () => {
    expect(matchesFilter(run("a", "2026-01-01T10:00:00Z", { jobName: "db-Backup" }), { jobNameContains: "back" })).toBe(true);
    expect(matchesFilter(run("a", "2026-01-01T10:00:00Z", { jobName: "report" }), { jobNameContains: "back" })).toBe(false);
    expect(matchesFilter(run("a", "2026-01-01T10:00:00Z", { jobName: null }), { jobNameContains: "back" })).toBe(false);
  });
});
