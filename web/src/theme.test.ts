// @vitest-environment node
// WCAG AA contrast of the console's two themes, computed from the custom properties in
// styles.css: 4.5:1 for text (badges included), 3:1 for large text and interface parts.
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { HEAD, TENTACLES } from "./components/Logo";

const css = readFileSync(new URL("./styles.css", import.meta.url), "utf8");

function properties(selector: string): Record<string, string> {
  const start = css.indexOf(`${selector} {`);
  if (start < 0) throw new Error(`styles.css has no ${selector} block`);
  const block = css.slice(start, css.indexOf("}", start));
  return Object.fromEntries([...block.matchAll(/(--[\w-]+):\s*([^;]+);/g)].map((m) => [m[1], m[2].trim()]));
}

const light = properties(":root");
const THEMES: Record<string, Record<string, string>> = {
  light,
  dark: { ...light, ...properties(':root[data-theme="dark"]') },
};

function luminance(hex: string): number {
  const match = /^#([0-9a-f]{6})$/i.exec(hex);
  if (!match) throw new Error(`${hex} is not a #rrggbb colour`);
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = parseInt(match[1].slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

const TEXT = 4.5;
const UI = 3;
// [foreground, background, minimum, where]
const PAIRS: [string, string, number, string][] = [
  ["--text", "--bg", TEXT, "page text"],
  ["--text", "--panel", TEXT, "card and sidebar text"],
  ["--text", "--panel-2", TEXT, "buttons, hovered navigation"],
  ["--text", "--code-bg", TEXT, "code"],
  ["--text", "--ok-bg", TEXT, "added lines of a diff"],
  ["--text", "--bad-bg", TEXT, "removed lines of a diff"],
  ["--muted", "--bg", TEXT, "muted text on the page"],
  ["--muted", "--panel", TEXT, "muted text in cards, table headings"],
  ["--muted", "--panel-2", TEXT, "muted badge, virtual table heading"],
  ["--accent", "--bg", TEXT, "links on the page"],
  ["--accent", "--panel", TEXT, "links in cards"],
  ["--accent-text", "--accent", TEXT, "active navigation, primary buttons"],
  ["--ok", "--ok-bg", TEXT, "ok badge"],
  ["--bad", "--bad-bg", TEXT, "bad badge"],
  ["--warn", "--warn-bg", TEXT, "warn badge"],
  ["--info", "--info-bg", TEXT, "info badge"],
  ["--ok", "--panel", TEXT, "ok text"],
  ["--bad", "--panel", TEXT, "errors, danger buttons in cards"],
  ["--bad", "--bg", TEXT, "errors on the page"],
  ["--warn", "--panel", TEXT, "failure reasons"],
  ["--tok-key", "--code-bg", TEXT, "highlighted keys"],
  ["--tok-string", "--code-bg", TEXT, "highlighted strings"],
  ["--tok-number", "--code-bg", TEXT, "highlighted numbers"],
  ["--tok-bool", "--code-bg", TEXT, "highlighted booleans"],
  ["--tok-comment", "--code-bg", TEXT, "highlighted comments"],
  ["--muted", "--code-bg", TEXT, "highlighted punctuation"],
  ["--accent", "--panel", UI, "focus outline, logo head"],
  ["--logo-trace", "--panel", UI, "logo traces"],
  ["--ok", "--panel", UI, "live dot"],
  ["--warn", "--panel", UI, "reconnecting dot, show-once card border"],
];

describe.each(Object.keys(THEMES))("the %s theme", (name) => {
  const theme = THEMES[name];
  test.each(PAIRS)("%s on %s reaches %s:1 (%s)", (fg, bg, minimum) => {
    expect(contrast(theme[fg], theme[bg])).toBeGreaterThanOrEqual(minimum);
  });
});

test("the contrast computation matches WCAG's reference values", () => {
  expect(contrast("#000000", "#ffffff")).toBeCloseTo(21, 5);
  expect(contrast("#777777", "#ffffff")).toBeCloseTo(4.48, 2);
});

test("the dark theme is the Dracula palette", () => {
  const dark = THEMES.dark;
  expect([dark["--bg"], dark["--panel-2"], dark["--text"]]).toEqual(["#282a36", "#44475a", "#f8f8f2"]);
  expect([dark["--accent"], dark["--ok"], dark["--bad"], dark["--warn"], dark["--info"]]).toEqual([
    "#bd93f9",
    "#50fa7b",
    "#ff5555",
    "#ffb86c",
    "#8be9fd",
  ]);
  expect([dark["--tok-key"], dark["--tok-string"], dark["--logo-trace"]]).toEqual(["#ff79c6", "#f1fa8c", "#ff79c6"]);
});

test("the favicon draws the same octopus as the console's logo", () => {
  const favicon = readFileSync(new URL("../public/logo.svg", import.meta.url), "utf8");
  expect(favicon).toContain(`d="${HEAD}"`);
  for (const { trace, pad } of TENTACLES) {
    expect(favicon).toContain(`<path d="${trace}"/><circle cx="${pad[0]}" cy="${pad[1]}"`);
  }
});
