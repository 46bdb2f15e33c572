// Keyboard shortcuts: "g" then a letter goes to a page; "/" focuses the page's first filter;
// "?" lists them all; Ctrl-K (⌘K on a Mac) opens the palette. SHORTCUTS is what the "?"
// overlay shows, so a shortcut added here is listed there.
import { pageName } from "./pages";

export const GO_TO: Record<string, string> = {
  d: "/",
  r: "/runs",
  h: "/health-report",
  j: "/jobs",
  n: "/jobs/new",
  e: "/endpoints",
  t: "/tokens",
  a: "/alerts",
  u: "/audit",
  p: "/playground",
};

export const HELP_KEY = "?";
export const PALETTE_KEY = "k";

export type Shortcut = { keys: string[]; what: string; then?: boolean };

/** Every shortcut, with how to type it; `mac` shows ⌘ for the palette's modifier. */
export function shortcutList(mac: boolean): Shortcut[] {
  return [
    { keys: [mac ? "⌘" : "Ctrl", PALETTE_KEY.toUpperCase()], what: "Jump to a job, endpoint or page" },
    { keys: [HELP_KEY], what: "Show these shortcuts" },
    { keys: ["/"], what: "Focus the page's search field (else its first filter)" },
    ...Object.entries(GO_TO).map(([key, to]) => ({ keys: ["g", key], what: `Go to ${pageName(to)}`, then: true })),
    { keys: ["Esc"], what: "Close the palette or this list" },
  ];
}

export type ShortcutAction =
  | { kind: "navigate"; to: string }
  | { kind: "focus-filter" }
  | { kind: "pending" }
  | { kind: "help" }
  | null;

/** What a key press means after `previous` (the key before it, within a second). */
export function shortcutFor(previous: string | null, key: string): ShortcutAction {
  if (previous === "g" && GO_TO[key]) return { kind: "navigate", to: GO_TO[key] };
  if (key === "g") return { kind: "pending" };
  if (key === "/") return { kind: "focus-filter" };
  if (key === HELP_KEY) return { kind: "help" };
  return null;
}

/** Whether a key press opens the palette: Ctrl-K, or ⌘K on a Mac; it works while typing too. */
export function isPaletteKey(event: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "altKey" | "shiftKey">): boolean {
  return event.key.toLowerCase() === PALETTE_KEY && (event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey;
}

/** Whether a key press happened while typing, where shortcuts must not fire. */
export function isTyping(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  if (!element || !element.tagName) return false;
  return /^(INPUT|TEXTAREA|SELECT)$/.test(element.tagName) || element.isContentEditable || !!element.closest?.(".CodeMirror");
}
