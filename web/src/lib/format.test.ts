import { describe, expect, it } from "vitest";
import { formatAgo, formatDuration, formatRate, formatTime } from "./format";
import { installCommands } from "./install";
import { effectiveTheme } from "./theme";
import { expiresSoon } from "../api/session";

describe("formatting", () => {
  it("reads durations at a sensible unit", () => {
    expect(formatDuration(850)).toBe("850 ms");
    expect(formatDuration(12_400)).toBe("12.4 s");
    expect(formatDuration(185_000)).toBe("3 min 5 s");
    expect(formatDuration(7_800_000)).toBe("2 h 10 min");
    expect(formatDuration(null)).toBe("—");
  });

  it("says how long ago something was", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(formatAgo("2026-01-01T11:59:55Z", now)).toBe("just now");
    expect(formatAgo("2026-01-01T11:55:00Z", now)).toBe("5 min ago");
    expect(formatAgo("2025-12-30T12:00:00Z", now)).toBe("2 d ago");
    expect(formatAgo(null, now)).toBe("never");
  });

  it("calls a time a little ahead of this clock just now, never in the future", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(formatAgo("2026-01-01T12:00:02Z", now)).toBe("just now");
    expect(formatAgo("2026-01-01T12:05:00Z", now)).toBe("just now");
  });

  it("shows a time in the job's own zone", () => {
    expect(formatTime("2026-01-01T01:00:00Z", "Europe/Berlin")).toMatch(/^2026-01-01 02:00:00 (CET|GMT\+1)$/);
  });

  it("shows success rates as percentages", () => {
    expect(formatRate(1)).toBe("100 %");
    expect(formatRate(0.8)).toBe("80.0 %");
    expect(formatRate(null)).toBe("—");
  });
});

describe("theme", () => {
  it("follows the system only when asked to", () => {
    expect(effectiveTheme("system", true)).toBe("dark");
    expect(effectiveTheme("system", false)).toBe("light");
    expect(effectiveTheme("light", true)).toBe("light");
  });
});

describe("session", () => {
  it("refreshes an access token shortly before it expires", () => {
    const session = {
      accessToken: "a",
      accessTokenExpiresAt: "2026-01-01T12:00:00Z",
      username: "alice",
      tenantSlug: "alice",
      tenantName: "alice",
      role: "OWNER",
    };
    expect(expiresSoon(session, Date.parse("2026-01-01T11:50:00Z"))).toBe(false);
    expect(expiresSoon(session, Date.parse("2026-01-01T11:59:45Z"))).toBe(true);
  });
});

describe("install commands", () => {
  it("pipe the server's own installer to sh with the token, quoted for the shell", () => {
    expect(installCommands("linux", "https://cron.example.com/", "cten_abc")).toBe(
      "curl -fsSL https://cron.example.com/install/agent.sh | sudo sh -s -- --token cten_abc",
    );
    expect(installCommands("linux", "https://c", "cten_abc'x")).toContain("--token 'cten_abc'\\''x'");
  });
  it("run the server's PowerShell installer with the token on Windows", () => {
    expect(installCommands("windows", "https://c", "cten_1")).toContain(
      "& ([scriptblock]::Create((irm 'https://c/install/agent.ps1'))) -Token 'cten_1'",
    );
  });
});

describe("keyboard shortcuts", async () => {
  const { shortcutFor, isTyping } = await import("./shortcuts");
  it("go to a page with g and a letter, and focus the filter with /", () => {
    expect(shortcutFor(null, "g")).toEqual({ kind: "pending" });
    expect(shortcutFor("g", "j")).toEqual({ kind: "navigate", to: "/jobs" });
    expect(shortcutFor(null, "j")).toBeNull();
    expect(shortcutFor(null, "/")).toEqual({ kind: "focus-filter" });
  });

  it("stay out of the way while typing", () => {
    expect(isTyping(document.createElement("input"))).toBe(true);
    expect(isTyping(document.createElement("div"))).toBe(false);
  });
});
