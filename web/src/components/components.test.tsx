import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { Badge, LiveIndicator } from "./bits";
import { DiffView, YamlView } from "./code";
import { RunTable, ROW_HEIGHT, visibleRange } from "./RunTable";
import type { RunRow } from "../lib/runs";

afterEach(cleanup);

const runs: RunRow[] = Array.from({ length: 1000 }, (_, i) => ({
  id: `run-${i}`,
  jobId: "job",
  jobName: `job-${i}`,
  namespace: "default",
  endpointId: null,
  status: i % 10 === 0 ? "FAILURE" : "SUCCESS",
  startedAt: new Date(Date.UTC(2026, 0, 1) - i * 1000).toISOString(),
  finishedAt: null,
  durationMs: 1000,
  exitCode: 0,
  unknownJob: false,
  stuck: false,
  trigger: "SCHEDULE",
}));

describe("RunTable", () => {
  it("renders only the rows in view out of a thousand", () => {
    const { container } = render(<RunTable runs={runs} maxHeight={400} />);
    const rendered = container.querySelectorAll("[data-run-id]").length;
    expect(rendered).toBeGreaterThan(5);
    expect(rendered).toBeLessThan(30);
    expect(screen.getByRole("table").getAttribute("aria-rowcount")).toBe("1000");
  });

  it("renders further rows after scrolling", () => {
    const { container } = render(<RunTable runs={runs} maxHeight={400} />);
    const body = screen.getByTestId("runs-table");
    fireEvent.scroll(body, { target: { scrollTop: 500 * ROW_HEIGHT } });
    expect(container.querySelector('[data-run-id="run-500"]')).not.toBeNull();
    expect(container.querySelector('[data-run-id="run-0"]')).toBeNull();
  });

  it("computes the visible window with some overscan", () => {
    expect(visibleRange(0, 400, 1000)).toEqual([0, 16]);
    expect(visibleRange(400, 400, 1000)).toEqual([4, 26]);
    expect(visibleRange(0, 400, 3)).toEqual([0, 3]);
  });

  it("says so when there are no runs", () => {
    render(<RunTable runs={[]} />);
    expect(screen.getByText("No runs yet.")).toBeTruthy();
  });
});

describe("small components", () => {
  it("colours statuses by meaning", () => {
    render(<Badge value="FAILING" />);
    expect(screen.getByText("FAILING").className).toContain("badge-bad");
  });

  it("shows the live connection's state", () => {
    render(<LiveIndicator state="reconnecting" />);
    expect(screen.getByRole("status").textContent).toBe("Reconnecting…");
  });

  it("highlights YAML keys", () => {
    const { container } = render(<YamlView yaml={"kind: Job\nspec:\n  timeout: 5\n"} copy={false} />);
    expect([...container.querySelectorAll(".tok-key")].map((e) => e.textContent)).toEqual(["kind", "spec", "timeout"]);
  });

  it("marks added and removed lines in a diff", () => {
    const { container } = render(<DiffView before={"a\nb"} after={"a\nc"} />);
    expect(container.querySelector(".diff-removed")?.textContent).toContain("b");
    expect(container.querySelector(".diff-added")?.textContent).toContain("c");
  });
});
