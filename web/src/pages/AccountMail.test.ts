import { describe, expect, it } from "vitest";
import { ACCOUNT_MAIL_PATHS, tokenFromHash } from "./AccountMail";

describe("mail links", () => {
  it("read the token from the fragment, which never reaches the server", () => {
    expect(tokenFromHash("#token=cta_abc123")).toBe("cta_abc123");
    expect(tokenFromHash("token=cta_abc123")).toBe("cta_abc123");
    expect(tokenFromHash("")).toBe("");
    expect(tokenFromHash("#other=1")).toBe("");
  });

  it("open the pages the server's mail links to", () => {
    expect(ACCOUNT_MAIL_PATHS).toEqual(["/forgot-password", "/reset-password", "/verify-email", "/accept-invitation"]);
  });
});
