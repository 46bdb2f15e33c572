import { describe, expect, it } from "vitest";
import { changedFields, errorId, groupProblems, jobFieldOf } from "./fieldErrors";

describe("a problem's field", () => {
  it("is found from manifest paths and mutation input paths alike", () => {
    expect(jobFieldOf("spec.schedule")).toBe("schedule");
    expect(jobFieldOf("input.schedule")).toBe("schedule");
    expect(jobFieldOf("metadata.name")).toBe("name");
    expect(jobFieldOf("spec.alerts.consecutiveFailures")).toBe("alerts.consecutiveFailures");
    expect(jobFieldOf("spec.alerts.failureRate.window")).toBe("alerts.rateWindow");
    expect(jobFieldOf("spec.env.1.secretRef")).toBe("secretEnv");
    expect(jobFieldOf("spec.targets.labels")).toBe("targetLabels");
    expect(jobFieldOf("apiVersion")).toBeNull();
  });
});

describe("grouping problems", () => {
  it("shows each message once per field and keeps the rest apart", () => {
    const grouped = groupProblems([
      { path: "spec.schedule", message: "bad minute" },
      { path: "input.schedule", message: "bad minute" },
      { path: "spec.schedule", message: "bad minute" },
      { path: "apiVersion", message: "unknown" },
    ]);
    expect(grouped.byField).toEqual({ schedule: ["bad minute"] });
    expect(grouped.general).toEqual([{ path: "apiVersion", message: "unknown" }]);
  });

  it("gives ids that work in aria-describedby", () => {
    expect(errorId("alerts.channels")).toBe("error-alerts-channels");
  });
});

describe("changed fields", () => {
  it("names the fields an edit touched, nested ones by dotted path", () => {
    expect(changedFields({ a: "1", b: { c: "2", d: "3" } }, { a: "1", b: { c: "9", d: "3" } })).toEqual(["b.c"]);
    expect(changedFields({ a: "1" }, { a: "2" })).toEqual(["a"]);
  });
});
