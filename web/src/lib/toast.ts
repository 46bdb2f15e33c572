// Short notices that outlive a navigation ("Saved backup-db"): a tiny store the shell renders.

export type Toast = { id: number; text: string; kind: "ok" | "error" };
type Listener = (toasts: Toast[]) => void;

let toasts: Toast[] = [];
let next = 1;
const listeners = new Set<Listener>();

function publish(): void {
  for (const listener of listeners) listener(toasts);
}

/** Show a notice; it goes by itself after `ms` (0: stays until dismissed). Returns its id. */
export function toast(text: string, kind: Toast["kind"] = "ok", ms = 5000): number {
  const id = next++;
  toasts = [...toasts.slice(-2), { id, text, kind }]; // at most three at once
  publish();
  if (ms > 0) setTimeout(() => dismiss(id), ms);
  return id;
}

export function dismiss(id: number): void {
  const kept = toasts.filter((t) => t.id !== id);
  if (kept.length === toasts.length) return;
  toasts = kept;
  publish();
}

/** Follow the notices; returns the unsubscribe function. */
export function onToasts(listener: Listener): () => void {
  listeners.add(listener);
  listener(toasts);
  return () => {
    listeners.delete(listener);
  };
}
