import { describe, expect, it } from "vitest";
import { formatBytes } from "./Operator";

describe("the operator's tenant sizes", () => {
  it("read in the largest unit that keeps a number of at least 1", () => {
    expect(formatBytes(824)).toBe("824 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(5 * 1024 ** 3)).toBe("5.0 GiB");
    expect(formatBytes(null)).toBe("—");
  });
});
