// The jobs list: namespace filter, search, label filter; discovered jobs are marked.
import { Fragment, useMemo, useState, type FormEvent } from "react";
import { JobsQuery } from "../api/operations";
import { usePaged } from "../api/paging";
import { useRunTicks } from "../api/runTicks";
import { useSparklines } from "../api/sparklines";
import { Badge, ErrorNote, LoadMore, Loading } from "../components/bits";
import { Sparkline } from "../components/Charts";
import { JobEndpoints } from "../components/JobEndpoints";
import { RepositoryProblems } from "../components/RepositoryProblems";
import { EMPTY, formatAgo, formatTime } from "../lib/format";
import { STATUS_MEANING, sortJobs, type JobSortKey } from "../lib/jobStatus";
import { parsePairs } from "../lib/manifest";
import { Link, navigate, useLocation } from "../router";

export function JobsPage() {
  const { query } = useLocation();
  const search = query.toString();
  const variables = useMemo(() => {
    const q = new URLSearchParams(search);
    const labels = parsePairs((q.get("labels") ?? "").replaceAll(",", "\n"));
    return {
      namespace: q.get("namespace") || null,
      search: q.get("q") || null,
      labels: labels.length ? labels : null,
      after: null,
    };
  }, [search]);
  const { data, error, loading, nodes, hasMore, loadingMore, loadMore } = usePaged(JobsQuery, variables, (r) => r.jobs);
  const [open, setOpen] = useState<string | null>(null);
  const [sort, setSort] = useState<{ key: JobSortKey; descending: boolean }>({ key: "status", descending: false });
  // Sorted among the jobs loaded so far; "Load more" brings the next page by path.
  const rows = sortJobs(nodes, sort.key, sort.descending);
  // Runs of each listed job over the last 24 hours, following run events.
  const lines = useSparklines("job", nodes.map((job) => job.id), "H24", useRunTicks());
  const header = (key: JobSortKey, label: string) => (
    <th aria-sort={sort.key === key ? (sort.descending ? "descending" : "ascending") : "none"}>
      <button
        className="link sort"
        onClick={() => setSort({ key, descending: sort.key === key ? !sort.descending : false })}
        data-testid={`sort-${key}`}
      >
        {label}
        {sort.key === key ? (sort.descending ? " ▾" : " ▴") : ""}
      </button>
    </th>
  );

  const apply = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(event.currentTarget)) if (value) params.set(key, String(value));
    navigate(`/jobs${params.size ? `?${params}` : ""}`);
  };

  return (
    <>
      <header className="page-head">
        <h1>Jobs</h1>
        <Link className="button primary" href={`/jobs/new${variables.namespace ? `?namespace=${variables.namespace}` : ""}`}>
          New job
        </Link>
      </header>
      <RepositoryProblems />
      <form className="filters" onSubmit={apply} key={search}>
        <select name="namespace" defaultValue={variables.namespace ?? ""} aria-label="Namespace">
          <option value="">All namespaces</option>
          {data?.namespaces.map((ns) => (
            <option key={ns.name} value={ns.name}>
              {ns.name} ({ns.jobCount})
            </option>
          ))}
        </select>
        <input name="q" placeholder="Search name or command" defaultValue={variables.search ?? ""} aria-label="Search" />
        <input name="labels" placeholder="Labels: team=ops,env=prod" defaultValue={query.get("labels") ?? ""} aria-label="Labels" />
        <button className="button">Filter</button>
      </form>
      <ErrorNote error={error} />
      <Loading when={loading && !data} />
      <section className="card">
        <div className="table-wrap" tabIndex={0}>
          <table data-testid="jobs-table">
            <thead>
              <tr>
                <th />
                {header("name", "Name")}
                {header("namespace", "Namespace")}
                {header("status", "Status")}
                <th>Schedule</th>
                {header("lastRun", "Last run")}
                {header("nextRun", "Next run")}
                <th>Command</th>
                <th>Last 24 h</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((job) => (
                <Fragment key={job.id}>
                <tr data-job-status={job.status}>
                  <td>
                    <button className="button small" aria-expanded={open === job.id} aria-label={`Endpoints of ${job.name}`} onClick={() => setOpen(open === job.id ? null : job.id)}>
                      {open === job.id ? "▾" : "▸"}
                    </button>
                  </td>
                  <td>
                    <Link href={`/jobs/${job.id}`}>{job.name}</Link>
                    {job.isDiscovered && <span className="badge badge-muted">discovered</span>}
                    {job.labels.length > 0 && (
                      <div className="chips">
                        {job.labels.map((l) => (
                          <span key={l.key} className="chip">
                            {l.key}={l.value}
                          </span>
                        ))}
                      </div>
                    )}
                  </td>
                  <td>{job.namespace}</td>
                  <td title={STATUS_MEANING[job.status]}>
                    <Badge value={job.status} />
                  </td>
                  <td>
                    {job.scheduleDescription}
                    <div className="muted small">
                      <code>{job.schedule}</code>
                    </div>
                  </td>
                  <td title={job.lastRun?.startedAt}>
                    {job.lastRun ? (
                      <>
                        <Badge value={job.lastRun.status} /> <Link href={`/runs/${job.lastRun.id}`}>{formatAgo(job.lastRun.startedAt)}</Link>
                      </>
                    ) : (
                      <span className="muted">{EMPTY}</span>
                    )}
                  </td>
                  <td className="nowrap">{job.nextRunAt ? formatTime(job.nextRunAt, job.timezone) : <span className="muted">{EMPTY}</span>}</td>
                  <td className="truncate">
                    <code>{job.command}</code>
                  </td>
                  <td>{lines.has(job.id) && <Sparkline points={lines.get(job.id)!} label={`Runs of ${job.name}`} />}</td>
                </tr>
                {open === job.id && (
                  <tr>
                    <td colSpan={9}>
                      <JobEndpoints jobId={job.id} />
                    </td>
                  </tr>
                )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
        {data && nodes.length === 0 && <p className="muted">No jobs match.</p>}
        <LoadMore shown={nodes.length} hasMore={hasMore} loading={loadingMore} onClick={loadMore} />
      </section>
    </>
  );
}
