import { describe, expect, it } from "vitest";
import { lastRunByEndpoint } from "../components/JobEndpoints";
import type { RunRow } from "../lib/runs";
import { CHANNEL_TEMPLATES, localToIso, problemOf } from "./Alerts";
import { authFailure } from "./Auth";
import { filterFromQuery } from "./Runs";

describe("the run log's URL", () => {
  it("becomes a run filter, ignoring unknown statuses", () => {
    const now = Date.parse("2026-01-02T00:00:00Z");
    const filter = filterFromQuery(new URLSearchParams("job=backup&status=FAILURE&window=24h"), now);
    expect(filter).toEqual({ jobName: "backup", status: "FAILURE", since: "2026-01-01T00:00:00.000Z" });
    expect(filterFromQuery(new URLSearchParams("status=BROKEN"), now)).toBeNull();
  });
});

describe("errors as data", () => {
  it("name the fields that are wrong", () => {
    const message = authFailure({
      __typename: "ValidationError",
      message: "registration refused",
      fields: [{ path: ["password"], message: "at least 12 characters" }],
    });
    expect(message).toBe("registration refused — password: at least 12 characters");
  });

  it("are null when the mutation worked", () => {
    expect(problemOf({ __typename: "Snooze" })).toBeNull();
    expect(problemOf({ __typename: "PermissionError", message: "admins only" })).toBe("admins only");
  });
});

describe("alerts", () => {
  it("turn a local date and time into an instant, and refuse garbage", () => {
    expect(localToIso("2026-03-01T10:30")).toBe(new Date("2026-03-01T10:30").toISOString());
    expect(localToIso("")).toBeNull();
    expect(localToIso("soon")).toBeNull();
  });

  it("offer settings templates for every channel kind", () => {
    expect(Object.keys(CHANNEL_TEMPLATES).sort()).toEqual(["EMAIL", "PAGERDUTY", "SLACK", "WEBHOOK"]);
  });
});

describe("a job's endpoints", () => {
  it("show each endpoint's newest run", () => {
    const run = (id: string, endpointId: string | null): RunRow => ({
      id,
      jobId: "j",
      jobName: "j",
      namespace: "default",
      endpointId,
      status: "SUCCESS",
      startedAt: "2026-01-01T00:00:00Z",
      finishedAt: null,
      durationMs: null,
      exitCode: 0,
      unknownJob: false,
      stuck: false,
      trigger: "SCHEDULE",
    });
    const last = lastRunByEndpoint([run("new", "e1"), run("http", null), run("old", "e1"), run("other", "e2")]);
    expect([...last.entries()].map(([e, r]) => `${e}:${r.id}`)).toEqual(["e1:new", "e2:other"]);
  });
});
