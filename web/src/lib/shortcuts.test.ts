import { describe, expect, it } from "vitest";
import { GO_TO, isPaletteKey, shortcutFor, shortcutList } from "./shortcuts";

describe("the shortcut list", () => {
  it("lists every g-then-letter shortcut with the page it goes to", () => {
    const list = shortcutList(false);
    for (const key of Object.keys(GO_TO)) expect(list.some((s) => s.keys.join(" ") === `g ${key}`)).toBe(true);
    expect(list.find((s) => s.keys.join(" ") === "g n")?.what).toBe("Go to New job");
    expect(list.find((s) => s.keys.join(" ") === "g h")?.what).toBe("Go to Health");
  });

  it("names the palette's modifier as the platform does", () => {
    expect(shortcutList(false)[0].keys).toEqual(["Ctrl", "K"]);
    expect(shortcutList(true)[0].keys).toEqual(["⌘", "K"]);
  });

  it("means help by ?", () => {
    expect(shortcutFor(null, "?")).toEqual({ kind: "help" });
  });
});

describe("the palette key", () => {
  const press = (key: string, mods: Partial<Record<"ctrlKey" | "metaKey" | "altKey" | "shiftKey", boolean>> = {}) =>
    isPaletteKey({ key, ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, ...mods });

  it("is Ctrl-K or ⌘K and nothing else", () => {
    expect(press("k", { ctrlKey: true })).toBe(true);
    expect(press("k", { metaKey: true })).toBe(true);
    expect(press("K", { ctrlKey: true })).toBe(true);
    expect(press("k")).toBe(false);
    expect(press("k", { ctrlKey: true, shiftKey: true })).toBe(false);
    expect(press("j", { ctrlKey: true })).toBe(false);
  });
});
