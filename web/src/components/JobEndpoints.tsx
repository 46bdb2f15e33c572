// The endpoints running one job: their status, the instance's state and drift, and their last run.
import { useQuery } from "../api/hooks";
import { JobEndpointsQuery } from "../api/endpointOperations";
import { formatAgo } from "../lib/format";
import type { RunRow } from "../lib/runs";
import { Link } from "../router";
import { Badge, ErrorNote, FailureReason, Loading } from "./bits";

/** The newest run of each endpoint among `runs` (which come newest first). */
export function lastRunByEndpoint(runs: RunRow[]): Map<string, RunRow> {
  const last = new Map<string, RunRow>();
  for (const run of runs) if (run.endpointId && !last.has(run.endpointId)) last.set(run.endpointId, run);
  return last;
}

export function JobEndpoints({ jobId }: { jobId: string }) {
  const { data, error, loading } = useQuery(JobEndpointsQuery, { id: jobId });
  const last = lastRunByEndpoint(data?.runs.nodes ?? []);
  const rows = data?.job?.endpoints ?? [];
  return (
    <div data-testid="job-endpoints">
      <ErrorNote error={error} />
      <Loading when={loading && !data} />
      {data && rows.length === 0 && <p className="muted">No endpoint runs or is targeted by this job yet.</p>}
      {rows.length > 0 && (
        <table className="inner">
          <tbody>
            {rows.map((row) => {
              const run = last.get(row.endpoint.id);
              return (
                <tr key={row.endpoint.id}>
                  <td>
                    <Link href={`/endpoints/${row.endpoint.id}`}>{row.endpoint.name}</Link> <Badge value={row.endpoint.status} />
                  </td>
                  <td>
                    {row.state?.toLowerCase() ?? "not reported"}
                    <FailureReason reason={row.failureReason} />
                  </td>
                  <td>{row.drift ? <span className="badge badge-warn">drift: {row.driftReason?.toLowerCase()}</span> : "in sync"}</td>
                  <td>
                    {run ? (
                      <>
                        <Badge value={run.status} /> <Link href={`/runs/${run.id}`}>{formatAgo(run.startedAt)}</Link>
                      </>
                    ) : (
                      <span className="muted">no runs</span>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}
