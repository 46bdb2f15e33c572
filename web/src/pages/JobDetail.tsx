// One job: its manifest, next runs in its zone, Git history with diffs, recent runs, actions.
import { useState } from "react";
import { request } from "../api/client";
import { useQuery } from "../api/hooks";
import { useLiveRuns } from "../api/liveRuns";
import { AdoptJobMutation, DeleteJobMutation, JobQuery } from "../api/operations";
import { ErrorNote, Loading } from "../components/bits";
import { DiffView, YamlView } from "../components/code";
import { JobEndpoints } from "../components/JobEndpoints";
import { RunTable } from "../components/RunTable";
import { formatTime, shortCommit } from "../lib/format";
import { Link, navigate } from "../router";

export function JobDetailPage({ id }: { id: string }) {
  const { data, error, loading, reload } = useQuery(JobQuery, { id });
  const [runs] = useLiveRuns(data?.runs.nodes ?? null, { jobId: id }, 50);
  const [selected, setSelected] = useState(0);
  const [actionError, setActionError] = useState<string | null>(null);
  const [adoptTo, setAdoptTo] = useState("default");
  const job = data?.job;
  const history = data?.jobHistory ?? [];

  const remove = async () => {
    if (!job || !confirm(`Delete job ${job.namespace}/${job.name}? Agents remove it on their next sync.`)) return;
    const result = (await request(DeleteJobMutation, { id, expectedBlobId: job.blobId })).deleteJob;
    if (result.__typename === "DeleteJobPayload") navigate("/jobs");
    else setActionError("message" in result ? result.message : "The job could not be deleted");
  };
  const adopt = async () => {
    const result = (await request(AdoptJobMutation, { id, targetNamespace: adoptTo })).adoptJob;
    if (result.__typename === "Job") {
      // Adoption keeps the job's id: same page, new data.
      if (result.id === id) reload();
      else navigate(`/jobs/${result.id}`);
    } else setActionError("message" in result ? result.message : "The job could not be adopted");
  };

  return (
    <>
      <ErrorNote error={error ?? actionError} />
      <Loading when={loading && !data} />
      {data && !job && <p>No such job in this tenant's repository.</p>}
      {job && (
        <>
          <header className="page-head">
            <h1>
              {job.name} <span className="muted">in {job.namespace}</span>
            </h1>
            <div className="row">
              {job.isDiscovered ? (
                <>
                  <input value={adoptTo} onChange={(e) => setAdoptTo(e.target.value)} aria-label="Adopt into namespace" />
                  <button className="button primary" onClick={adopt}>
                    Adopt
                  </button>
                </>
              ) : (
                <Link className="button" href={`/jobs/${id}/edit`}>
                  Edit
                </Link>
              )}
              {!job.isDiscovered && (
                <button className="button danger" onClick={remove}>
                  Delete
                </button>
              )}
            </div>
          </header>
          <div className="columns">
            <section className="card">
              <h2>Manifest</h2>
              <p className="muted">
                <code>{job.path}</code>
              </p>
              <YamlView yaml={job.yaml} />
            </section>
            <section className="card">
              <h2>Next runs</h2>
              <p className="muted">
                <code>{job.schedule}</code> in {job.timezone}
              </p>
              <ol className="plain" data-testid="next-runs">
                {job.nextRuns.map((time) => (
                  <li key={time}>{formatTime(time, job.timezone)}</li>
                ))}
              </ol>
              {job.nextRuns.length === 0 && <p className="muted">Never fires (or the job is paused).</p>}
            </section>
          </div>
          <section className="card">
            <h2>Endpoints</h2>
            <JobEndpoints jobId={id} />
          </section>
          <section className="card">
            <h2>Git history</h2>
            <div className="history">
              <ol className="plain history-list" data-testid="history">
                {history.map((rev, i) => (
                  <li key={rev.commitId}>
                    <button className={`link ${i === selected ? "active" : ""}`} onClick={() => setSelected(i)}>
                      <code>{shortCommit(rev.commitId)}</code> {rev.message.split("\n")[0]}
                    </button>
                    <div className="muted small">
                      {rev.authorName} · {formatTime(rev.time)}
                    </div>
                  </li>
                ))}
              </ol>
              {history[selected] && (
                <div className="history-diff">
                  <p className="muted">
                    {history[selected + 1] ? `Changes since ${shortCommit(history[selected + 1].commitId)}` : "First version"}
                  </p>
                  <DiffView before={history[selected + 1]?.yaml} after={history[selected].yaml} />
                </div>
              )}
            </div>
          </section>
          <section className="card">
            <div className="row spread">
              <h2>Recent runs</h2>
              <button className="button small" onClick={reload}>
                Refresh
              </button>
            </div>
            <RunTable runs={runs} maxHeight={400} />
          </section>
        </>
      )}
    </>
  );
}
