import { describe, expect, it } from "vitest";
import { lastRunByEndpoint } from "../components/JobEndpoints";
import type { RunRow } from "../lib/runs";
import { CHANNEL_FIELDS, channelConfig, channelFieldOf } from "../lib/channels";
import { deliveryFailed, localToIso, problemOf } from "./Alerts";
import { authFailure } from "./Auth";
import { filterFromQuery } from "./Runs";

describe("the run log's URL", () => {
  it("becomes a run filter, ignoring unknown statuses", () => {
    const now = Date.parse("2026-01-02T00:00:00Z");
    const filter = filterFromQuery(new URLSearchParams("job=backup&status=FAILURE&window=24h"), now);
    expect(filter).toEqual({ jobNameContains: "backup", status: "FAILURE", since: "2026-01-01T00:00:00.000Z" });
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

  it("offer a form for every channel kind", () => {
    expect(Object.keys(CHANNEL_FIELDS).sort()).toEqual(["EMAIL", "PAGERDUTY", "SLACK", "WEBHOOK"]);
  });

  it("turn a channel form into its settings, leaving empty fields out", () => {
    const config = channelConfig("EMAIL", { host: " smtp.example.com ", port: "2525", security: "none", sender: "c@example.com", recipients: "a@example.com, b@example.com", password: "" });
    expect(config).toEqual({ host: "smtp.example.com", port: 2525, security: "none", sender: "c@example.com", recipients: ["a@example.com", "b@example.com"] });
    expect(channelConfig("WEBHOOK", { url: "https://x.example", secret: "" })).toEqual({ url: "https://x.example" });
  });

  it("count a delivery whose last attempt failed as failed, even while it is retried", () => {
    expect(deliveryFailed({ status: "FAILED" })).toBe(true);
    expect(deliveryFailed({ status: "PENDING", lastError: "unreachable" })).toBe(true);
    expect(deliveryFailed({ status: "DELIVERED", lastError: "once unreachable" })).toBe(false);
    expect(deliveryFailed({ status: "PENDING" })).toBe(false);
  });

  it("find the field a server problem is about", () => {
    expect(channelFieldOf(["input", "config", "url"])).toBe("url");
    expect(channelFieldOf(["input", "name"])).toBe("name");
    expect(channelFieldOf(["input"])).toBeNull();
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
