// Small shared pieces: badges, the live indicator, copy buttons, errors.
import { useState } from "react";
import type { LiveState } from "../api/live";

const STATUS_CLASS: Record<string, string> = {
  SUCCESS: "ok",
  HEALTHY: "ok",
  ONLINE: "ok",
  RUNNING: "info",
  FAILURE: "bad",
  FAILING: "bad",
  TIMEOUT: "bad",
  MISSED: "warn",
  UP: "ok",
  LATE: "warn",
  DOWN: "bad",
  STUCK: "bad",
  NEW: "muted",
  PAUSED: "muted",
  DEGRADED: "warn",
  OFFLINE: "warn",
  REVOKED: "muted",
  UNKNOWN: "muted",
};

export function Badge({ value }: { value: string }) {
  return <span className={`badge badge-${STATUS_CLASS[value] ?? "muted"}`}>{value}</span>;
}

const LIVE_TEXT: Record<LiveState, string> = {
  live: "Live",
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

export function LiveIndicator({ state }: { state: LiveState }) {
  return (
    <span className={`live live-${state}`} role="status" aria-live="polite" data-testid="live-indicator">
      <span className="live-dot" aria-hidden="true" />
      {LIVE_TEXT[state]}
    </span>
  );
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Without clipboard access (plain HTTP), select-and-copy by hand still works.
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <button type="button" className="button small" onClick={copy}>
      {copied ? "Copied" : label}
    </button>
  );
}

export function ErrorNote({ error }: { error: string | null | undefined }) {
  return error ? (
    <p className="error" role="alert">
      {error}
    </p>
  ) : null;
}

export function Loading({ when }: { when: boolean }) {
  return when ? <p className="muted">Loading…</p> : null;
}

/** Why an endpoint could not install a job, as its scheduler driver said (state FAILED). */
export function FailureReason({ reason }: { reason?: string | null }) {
  if (!reason) return null;
  return (
    <div className="failure-reason" data-testid="failure-reason">
      {reason}
    </div>
  );
}

/** The button under a paged list; says how many are shown. */
export function LoadMore({ shown, hasMore, loading, onClick }: { shown: number; hasMore: boolean; loading: boolean; onClick: () => void }) {
  if (!hasMore) return shown > 0 ? <p className="muted small" data-testid="list-end">All {shown} shown.</p> : null;
  return (
    <div className="row">
      <button className="button" onClick={onClick} disabled={loading} data-testid="load-more">
        {loading ? "Loading…" : "Load more"}
      </button>
      <span className="muted small">{shown} shown</span>
    </div>
  );
}
