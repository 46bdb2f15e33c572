// Keyboard shortcuts: "g" then a letter goes to a page; "/" focuses the page's first filter.
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

export type ShortcutAction = { kind: "navigate"; to: string } | { kind: "focus-filter" } | { kind: "pending" } | null;

/** What a key press means after `previous` (the key before it, within a second). */
export function shortcutFor(previous: string | null, key: string): ShortcutAction {
  if (previous === "g" && GO_TO[key]) return { kind: "navigate", to: GO_TO[key] };
  if (key === "g") return { kind: "pending" };
  if (key === "/") return { kind: "focus-filter" };
  return null;
}

/** Whether a key press happened while typing, where shortcuts must not fire. */
export function isTyping(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  if (!element || !element.tagName) return false;
  return /^(INPUT|TEXTAREA|SELECT)$/.test(element.tagName) || element.isContentEditable || !!element.closest?.(".CodeMirror");
}
