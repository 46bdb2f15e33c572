import { describe, expect, it } from "vitest";
import { matchPath, navigate } from "./router";

describe("the router", () => {
  it("matches patterns and decodes parameters", () => {
    expect(matchPath("/jobs/:id", "/jobs/abc")).toEqual({ id: "abc" });
    expect(matchPath("/jobs/:id/edit", "/jobs/a%20b/edit")).toEqual({ id: "a b" });
    expect(matchPath("/jobs/:id", "/jobs/abc/edit")).toBeNull();
    expect(matchPath("/jobs/:id", "/runs/abc")).toBeNull();
  });

  it("changes the address without a page load", () => {
    navigate("/runs?status=FAILURE");
    expect(window.location.pathname).toBe("/runs");
    expect(window.location.search).toBe("?status=FAILURE");
  });
});
