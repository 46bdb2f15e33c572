// Job statuses: how urgent each is, and how the jobs list sorts.
import type { JobStatus } from "../gql/graphql";

/** Worst first: what needs attention leads a list sorted by status. */
export const STATUS_ORDER: Record<JobStatus, number> = { DOWN: 0, FAILING: 1, LATE: 2, NEW: 3, UP: 4, PAUSED: 5 };

/** What a status means, for a tooltip. */
export const STATUS_MEANING: Record<JobStatus, string> = {
  NEW: "never reported a run",
  UP: "its last run succeeded and nothing is due",
  LATE: "a fire time passed with no start; its grace time is still running",
  DOWN: "a run was missed: no start within the grace time",
  FAILING: "its last run failed, or a failure alert is open",
  PAUSED: "disabled or paused in its manifest",
};

export type JobSortKey = "name" | "namespace" | "status" | "lastRun" | "nextRun";

export interface SortableJob {
  name: string;
  namespace: string;
  status: JobStatus;
  nextRunAt?: string | null;
  lastRun?: { startedAt: string } | null;
}

/** Sort jobs by a column; ties keep namespace/name order. Missing times sort last. */
export function sortJobs<T extends SortableJob>(jobs: readonly T[], key: JobSortKey, descending = false): T[] {
  const time = (iso: string | null | undefined) => (iso ? Date.parse(iso) : Number.POSITIVE_INFINITY);
  const value = (job: T): number | string => {
    switch (key) {
      case "status":
        return STATUS_ORDER[job.status];
      case "lastRun":
        // Most recent first reads best, so "ascending" puts the newest on top.
        return job.lastRun ? -Date.parse(job.lastRun.startedAt) : Number.POSITIVE_INFINITY;
      case "nextRun":
        return time(job.nextRunAt);
      case "namespace":
        return job.namespace;
      default:
        return job.name;
    }
  };
  const sorted = [...jobs].sort((a, b) => {
    const [x, y] = [value(a), value(b)];
    const order = x < y ? -1 : x > y ? 1 : 0;
    return order || a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name);
  });
  return descending ? sorted.reverse() : sorted;
}

/** A job the health figures know only from check-ins: its id is in no manifest in Git
 * (no status, no name), so the runs say nothing about any job's health. */
export function isUnknownJob(job: { status?: JobStatus | null; jobName?: string | null }): boolean {
  return !job.status && !job.jobName;
}
