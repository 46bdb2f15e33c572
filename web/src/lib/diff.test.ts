import { describe, expect, it } from "vitest";
import { diffLines } from "./diff";

describe("diffLines", () => {
  it("marks a changed line as removed then added, keeping the rest", () => {
    const lines = diffLines("a\nschedule: 1\nc\n", "a\nschedule: 2\nc\n");
    expect(lines).toEqual([
      { kind: "same", text: "a" },
      { kind: "removed", text: "schedule: 1" },
      { kind: "added", text: "schedule: 2" },
      { kind: "same", text: "c" },
    ]);
  });

  it("shows a first version as all added and a deletion as all removed", () => {
    expect(diffLines(null, "a\nb").map((l) => l.kind)).toEqual(["added", "added"]);
    expect(diffLines("a\nb", null).map((l) => l.kind)).toEqual(["removed", "removed"]);
  });
});
