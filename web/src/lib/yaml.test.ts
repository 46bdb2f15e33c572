import { describe, expect, it } from "vitest";
import { highlightLine } from "./yaml";

const kinds = (line: string) => highlightLine(line).map((t) => `${t.kind}:${t.text}`);

describe("highlightLine", () => {
  it("gives the line back when the tokens are joined", () => {
    for (const line of ["  schedule: \"0 2 * * *\"  # nightly", "  - --full", "kind: Job", "", "   "]) {
      expect(highlightLine(line).map((t) => t.text).join("")).toBe(line);
    }
  });

  it("tells keys, strings, numbers, booleans and comments apart", () => {
    expect(kinds("  timeout: 3600")).toEqual(["plain:  ", "key:timeout", "punct::", "plain: ", "number:3600"]);
    expect(kinds("enabled: true")).toEqual(["key:enabled", "punct::", "plain: ", "bool:true"]);
    expect(kinds('schedule: "0 2 * * *" # at two')).toContain("comment:# at two");
    expect(kinds("  - --full")).toEqual(["punct:  - ", "string:--full"]);
  });
});
