// How times, durations and rates read in the console.

/** A duration in milliseconds as "850 ms", "12.4 s", "3 min 5 s" or "2 h 10 min". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms == null) return "—";
  if (ms < 1000) return `${ms} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** How long ago `iso` was, relative to `now`: "just now", "5 min ago", "3 h ago", "2 d ago". */
export function formatAgo(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return "never";
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  // A run the server stamped a moment ahead of this browser's clock is "just now" too, not
  // "in the future": clocks differ by a little, and live rows arrive before the next tick.
  if (seconds < 10) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

/** A timestamp in the given IANA zone (the browser's when none), to the second. */
export function formatTime(iso: string | null | undefined, timeZone?: string): string {
  if (!iso) return "—";
  const date = new Date(iso);
  const options: Intl.DateTimeFormatOptions = {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
    timeZone,
    timeZoneName: timeZone ? "short" : undefined,
  };
  return new Intl.DateTimeFormat("sv-SE", options).format(date);
}

/** A success rate between 0 and 1 as a percentage, or "—" when nothing ran. */
export function formatRate(rate: number | null | undefined): string {
  return rate == null ? "—" : `${(rate * 100).toFixed(rate === 1 ? 0 : 1)} %`;
}

/** The first characters of a commit id. */
export function shortCommit(id: string | null | undefined): string {
  return id ? id.slice(0, 8) : "—";
}

/** The way every empty value reads in the console. */
export const EMPTY = "—";
