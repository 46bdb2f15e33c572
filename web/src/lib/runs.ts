// Merging live run events into a list of runs already on screen.
import type { RunFieldsFragment, RunFilter } from "../gql/graphql";

export type RunRow = RunFieldsFragment;

/** Whether a run belongs in a list shown with `filter` (the server filters too; this keeps
 * runs that stop matching, such as a RUNNING filter after the finish, out of the list). */
export function matchesFilter(run: RunRow, filter: RunFilter | null | undefined): boolean {
  if (!filter) return true;
  if (filter.jobId && run.jobId !== filter.jobId) return false;
  if (filter.jobName && run.jobName !== filter.jobName) return false;
  if (filter.jobNameContains && !(run.jobName ?? "").toLowerCase().includes(filter.jobNameContains.toLowerCase())) return false;
  if (filter.namespace && run.namespace !== filter.namespace) return false;
  if (filter.endpointId && run.endpointId !== filter.endpointId) return false;
  if (filter.status && run.status !== filter.status) return false;
  if (filter.since && Date.parse(run.startedAt) < Date.parse(filter.since)) return false;
  if (filter.until && Date.parse(run.startedAt) >= Date.parse(filter.until)) return false;
  return true;
}

/** Put newer versions of runs in place and new runs on top, newest first, at most `limit`. */
export function mergeRuns(
  current: RunRow[],
  incoming: RunRow[],
  filter?: RunFilter | null,
  limit = 1000,
): RunRow[] {
  if (incoming.length === 0) return current;
  const byId = new Map<string, RunRow>();
  for (const run of incoming) byId.set(run.id, run);
  const replaced = new Set<string>();
  const next: RunRow[] = [];
  for (const run of current) {
    const update = byId.get(run.id);
    if (update) {
      replaced.add(run.id);
      if (matchesFilter(update, filter)) next.push(update);
    } else {
      next.push(run);
    }
  }
  const fresh = [...byId.values()].filter((run) => !replaced.has(run.id) && matchesFilter(run, filter));
  fresh.sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt));
  const merged = fresh.length ? [...fresh, ...next] : next;
  if (fresh.length && next.length && Date.parse(fresh[fresh.length - 1].startedAt) < Date.parse(next[0].startedAt)) {
    // A late arrival (a spooled check-in) goes where its start time puts it.
    merged.sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt));
  }
  return merged.slice(0, limit);
}
