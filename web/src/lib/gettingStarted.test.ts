import { describe, expect, it } from "vitest";
import { gettingStarted } from "./gettingStarted";

describe("the getting-started checklist", () => {
  it("ticks each step from what the tenant has", () => {
    const done = (facts: { jobs: number; endpoints: number; runs: number }) => gettingStarted(facts).map((s) => s.done);
    expect(done({ jobs: 0, endpoints: 0, runs: 0 })).toEqual([false, false, false]);
    expect(done({ jobs: 2, endpoints: 0, runs: 1 })).toEqual([true, false, true]);
    expect(done({ jobs: 1, endpoints: 1, runs: 1 })).toEqual([true, true, true]);
  });
});
