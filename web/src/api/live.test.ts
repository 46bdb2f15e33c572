import { describe, expect, test } from "vitest";
import { isCredentialLapse } from "./live";

describe("isCredentialLapse", () => {
  test("a socket closed with 4401 or 4403 is a lapse of the credential", () => {
    expect(isCredentialLapse({ code: 4401, reason: "this API token was revoked" })).toBe(true);
    expect(isCredentialLapse({ code: 4403, reason: "your role changed" })).toBe(true);
  });

  test("an operation the server ended for its credential is a lapse", () => {
    const errors = [{ message: "expired", extensions: { code: "UNAUTHENTICATED", closeCode: 4401 } }];
    expect(isCredentialLapse(errors)).toBe(true);
  });

  test("a refused operation or a lost connection is not", () => {
    expect(isCredentialLapse([{ message: "needs the read scope", extensions: { code: "FORBIDDEN" } }])).toBe(false);
    expect(isCredentialLapse({ code: 1006, reason: "" })).toBe(false);
    expect(isCredentialLapse(new Error("boom"))).toBe(false);
    expect(isCredentialLapse(null)).toBe(false);
  });
});
