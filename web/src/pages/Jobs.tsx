// The jobs list: namespace filter, search, label filter; discovered jobs are marked.
import { Fragment, useMemo, useState, type FormEvent } from "react";
import { useQuery } from "../api/hooks";
import { JobsQuery } from "../api/operations";
import { ErrorNote, Loading } from "../components/bits";
import { JobEndpoints } from "../components/JobEndpoints";
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
  const { data, error, loading } = useQuery(JobsQuery, variables);
  const [open, setOpen] = useState<string | null>(null);

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
        <div className="table-wrap">
          <table data-testid="jobs-table">
            <thead>
              <tr>
                <th />
                <th>Name</th>
                <th>Namespace</th>
                <th>Schedule</th>
                <th>Command</th>
                <th>State</th>
              </tr>
            </thead>
            <tbody>
              {data?.jobs.nodes.map((job) => (
                <Fragment key={job.id}>
                <tr>
                  <td>
                    <button className="button small" aria-expanded={open === job.id} aria-label={`Endpoints of ${job.name}`} onClick={() => setOpen(open === job.id ? null : job.id)}>
                      {open === job.id ? "▾" : "▸"}
                    </button>
                  </td>
                  <td>
                    <Link href={`/jobs/${job.id}`}>{job.name}</Link>
                    {job.isDiscovered && <span className="badge badge-muted">discovered</span>}
                    {job.labels.map((l) => (
                      <span key={l.key} className="chip">
                        {l.key}={l.value}
                      </span>
                    ))}
                  </td>
                  <td>{job.namespace}</td>
                  <td>
                    <code>{job.schedule}</code> <span className="muted">{job.timezone}</span>
                  </td>
                  <td className="truncate">
                    <code>{job.command}</code>
                  </td>
                  <td>{!job.enabled ? "disabled" : job.paused ? "paused" : "active"}</td>
                </tr>
                {open === job.id && (
                  <tr>
                    <td colSpan={6}>
                      <JobEndpoints jobId={job.id} />
                    </td>
                  </tr>
                )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
        {data && data.jobs.nodes.length === 0 && <p className="muted">No jobs match.</p>}
      </section>
    </>
  );
}
