// The run log: filters, keyset "load more", live prepend of matching runs; and one run's detail.
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { request } from "../api/client";
import { useLiveState, useQuery } from "../api/hooks";
import { useLiveRuns } from "../api/liveRuns";
import { EndpointQuery, EndpointsQuery } from "../api/endpointOperations";
import { RunQuery, RunsQuery } from "../api/operations";
import { Badge, ErrorNote, LiveIndicator, Loading } from "../components/bits";
import { JobNameInput } from "../components/pickers";
import { RunTable } from "../components/RunTable";
import type { RunFilter, RunStatus } from "../gql/graphql";
import { formatDuration, formatTime, shortCommit } from "../lib/format";
import { Link, navigate, useLocation } from "../router";

const PAGE = 50;
const STATUSES: RunStatus[] = ["RUNNING", "SUCCESS", "FAILURE", "TIMEOUT", "MISSED"];
const WINDOWS: Record<string, number> = { "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3 };

/** The run filter a run-log URL asks for (`?job=…&namespace=…&status=…&endpoint=…&window=24h`). */
export function filterFromQuery(query: URLSearchParams, now: number = Date.now()): RunFilter | null {
  const filter: RunFilter = {};
  const job = query.get("job");
  const namespace = query.get("namespace");
  const endpoint = query.get("endpoint");
  const status = query.get("status");
  const window = query.get("window");
  // Part of a name finds the job: "backup" shows the runs of backup-db and db-backup.
  if (job) filter.jobNameContains = job;
  if (namespace) filter.namespace = namespace;
  if (endpoint) filter.endpointId = endpoint;
  if (status && (STATUSES as string[]).includes(status)) filter.status = status as RunStatus;
  if (window && WINDOWS[window]) filter.since = new Date(now - WINDOWS[window]).toISOString();
  return Object.keys(filter).length ? filter : null;
}

export function RunsPage() {
  const { query } = useLocation();
  const search = query.toString();
  const filter = useMemo(() => filterFromQuery(new URLSearchParams(search)), [search]);
  const { data, error, loading } = useQuery(RunsQuery, { filter, first: PAGE, after: null });
  const [runs, setRuns] = useLiveRuns(data?.runs.nodes ?? null, filter, 5000);
  const [cursor, setCursor] = useState<{ end: string | null; more: boolean } | null>(null);
  const [moreError, setMoreError] = useState<string | null>(null);
  const live = useLiveState();
  const endpoints = useQuery(EndpointsQuery, { filter: null });
  const [job, setJob] = useState(query.get("job") ?? "");
  useEffect(() => setJob(new URLSearchParams(search).get("job") ?? ""), [search]);
  const page = cursor ?? { end: data?.runs.pageInfo.endCursor ?? null, more: data?.runs.pageInfo.hasNextPage ?? false };

  const loadMore = async () => {
    try {
      const next = await request(RunsQuery, { filter, first: PAGE, after: page.end });
      const seen = new Set(runs.map((r) => r.id));
      setRuns((current) => [...current, ...next.runs.nodes.filter((r) => !seen.has(r.id))]);
      setCursor({ end: next.runs.pageInfo.endCursor ?? null, more: next.runs.pageInfo.hasNextPage });
    } catch (e) {
      setMoreError((e as Error).message);
    }
  };

  const apply = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(event.currentTarget)) if (value) params.set(key, String(value));
    setCursor(null);
    navigate(`/runs${params.size ? `?${params}` : ""}`);
  };

  return (
    <>
      <header className="page-head">
        <h1>Run log</h1>
        <LiveIndicator state={live} />
      </header>
      <form className="filters" onSubmit={apply} key={search}>
        <JobNameInput name="job" value={job} onChange={(value) => setJob(value)} label="Job name" placeholder="Job name (any part)" />
        <input name="namespace" placeholder="Namespace" defaultValue={query.get("namespace") ?? ""} aria-label="Namespace" />
        <select name="endpoint" defaultValue={query.get("endpoint") ?? ""} aria-label="Endpoint">
          <option value="">Any endpoint</option>
          {endpoints.data?.endpoints.nodes.map((e) => (
            <option key={e.id} value={e.id}>
              {e.name}
            </option>
          ))}
          {query.get("endpoint") && !endpoints.data?.endpoints.nodes.some((e) => e.id === query.get("endpoint")) && (
            <option value={query.get("endpoint") ?? ""}>{query.get("endpoint")}</option>
          )}
        </select>
        <select name="status" defaultValue={query.get("status") ?? ""} aria-label="Status">
          <option value="">Any status</option>
          {STATUSES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
        <select name="window" defaultValue={query.get("window") ?? ""} aria-label="Time window">
          <option value="">All time</option>
          <option value="1h">Last hour</option>
          <option value="24h">Last 24 h</option>
          <option value="7d">Last 7 days</option>
          <option value="30d">Last 30 days</option>
        </select>
        <button className="button">Filter</button>
      </form>
      <ErrorNote error={error ?? moreError} />
      <Loading when={loading && !data} />
      <section className="card">
        <RunTable runs={runs} maxHeight={640} />
        {page.more && (
          <button className="button" onClick={loadMore}>
            Load more
          </button>
        )}
      </section>
    </>
  );
}

export function RunDetailPage({ id }: { id: string }) {
  const { data, error, loading } = useQuery(RunQuery, { id });
  const run = data?.run;
  const endpoint = useQuery(EndpointQuery, { id: run?.endpointId ?? "" }, !run?.endpointId);
  return (
    <>
      <header className="page-head">
        <h1>Run {id.slice(0, 8)}</h1>
        <Link href="/runs">← Run log</Link>
      </header>
      <ErrorNote error={error} />
      <Loading when={loading} />
      {data && !run && <p>No such run (it may have been removed by retention).</p>}
      {run && (
        <section className="card">
          <dl className="facts">
            <dt>Status</dt>
            <dd>
              <Badge value={run.status} />
            </dd>
            <dt>Job</dt>
            <dd>
              <Link href={`/jobs/${run.jobId}`}>{run.jobName ?? run.jobId}</Link> <span className="muted">{run.namespace}</span>
            </dd>
            <dt>Started</dt>
            <dd>{formatTime(run.startedAt)}</dd>
            <dt>Finished</dt>
            <dd>{formatTime(run.finishedAt)}</dd>
            <dt>Duration</dt>
            <dd>{formatDuration(run.durationMs)}</dd>
            <dt>Exit code</dt>
            <dd>{run.exitCode ?? "—"}</dd>
            <dt>Endpoint</dt>
            <dd>
              {run.endpointId ? (
                <Link href={`/endpoints/${run.endpointId}`}>{endpoint.data?.endpoint?.name ?? run.endpointId}</Link>
              ) : (
                "— (reported over HTTP)"
              )}
            </dd>
            <dt>Commit</dt>
            <dd>{shortCommit(run.commitId)}</dd>
          </dl>
          <h2>Output {run.outputTruncated && <span className="muted">(tail)</span>}</h2>
          <pre className="code output" data-testid="run-output" tabIndex={0}>
            {run.output || "(no output)"}
          </pre>
        </section>
      )}
    </>
  );
}
