// The shell's notices (lib/toast.ts), announced politely to screen readers.
import { useEffect, useState } from "react";
import { dismiss, onToasts, type Toast } from "../lib/toast";

export function Toasts() {
  const [toasts, setToasts] = useState<Toast[]>([]);
  useEffect(() => onToasts(setToasts), []);
  return (
    <div className="toasts" role="status" aria-live="polite" data-testid="toasts">
      {toasts.map((t) => (
        <div key={t.id} className={`toast toast-${t.kind}`} data-testid="toast">
          <span>{t.text}</span>
          <button type="button" className="button small" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
