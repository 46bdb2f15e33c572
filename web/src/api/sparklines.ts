// Sparklines for a list: one request for every row's series, re-read on run events (throttled).
import type { HealthWindow } from "../gql/graphql";
import { useQuery, useThrottledEffect } from "./hooks";
import { HealthSparklinesQuery } from "./operations";

export type SparkPoints = { at: string; runs: number; failures: number; successRate?: number | null }[];

/** The server answers at most 200 series at once: a list shows the first 200 rows' lines. */
const MOST = 200;

/** `ticks` moves on run events (see useRunTicks), re-reading the lines at most every 5 s. */
export function useSparklines(kind: "job" | "endpoint", ids: string[], window: HealthWindow, ticks: number): Map<string, SparkPoints> {
  const wanted = ids.slice(0, MOST);
  const variables = kind === "job" ? { jobIds: wanted, window } : { endpointIds: wanted, window };
  const { data, reload } = useQuery(HealthSparklinesQuery, variables, wanted.length === 0);
  useThrottledEffect(ticks, reload, 5000);
  return new Map((data?.healthSparklines ?? []).map((line) => [line.id, line.points]));
}
