import { describe, expect, it } from "vitest";
import { titleFor, titleFromHeading } from "./pageTitle";

describe("page titles", () => {
  it("name every page before it loads", () => {
    expect(titleFor("/")).toBe("Dashboard · Crontopus");
    expect(titleFor("/jobs/5f0c/edit")).toBe("Edit job · Crontopus");
    expect(titleFor("/jobs/new")).toBe("New job · Crontopus");
    expect(titleFor("/nowhere")).toBe("Not found · Crontopus");
  });

  it("take the page's heading once it shows", () => {
    expect(titleFromHeading("  nightly-backup \n in default ", "/jobs/1")).toBe("nightly-backup in default · Crontopus");
    expect(titleFromHeading("", "/runs")).toBe("Run log · Crontopus");
  });
});
