// One job: its manifest, next runs in its zone, Git history with diffs, recent runs, actions.
import { useState } from "react";
import { request } from "../api/client";
import { useQuery } from "../api/hooks";
import { useLiveRuns } from "../api/liveRuns";
import { AdoptJobMutation, DeleteJobMutation, JobQuery, RunJobNowMutation } from "../api/operations";
import { Badge, CopyButton, ErrorNote, Loading } from "../components/bits";
import { DiffView, YamlView } from "../components/code";
import { TimeChart } from "../components/Charts";
import { JobEndpoints } from "../components/JobEndpoints";
import { RepositoryProblems } from "../components/RepositoryProblems";
import { RunTable } from "../components/RunTable";
import { durationChart } from "../lib/charts";
import { formatAgo, formatDuration, formatTime, shortCommit } from "../lib/format";
import { STATUS_MEANING } from "../lib/jobStatus";
import type { RunRow } from "../lib/runs";
import { Link, navigate } from "../router";

export function JobDetailPage({ id }: { id: string }) {
  const { data, error, loading, reload } = useQuery(JobQuery, { id });
  const [runs] = useLiveRuns(data?.runs.nodes ?? null, { jobId: id }, 50);
  const [selected, setSelected] = useState(0);
  const [actionError, setActionError] = useState<string | null>(null);
  const [adoptTo, setAdoptTo] = useState("default");
  const [runNotice, setRunNotice] = useState<string | null>(null);
  const job = data?.job;
  const history = data?.jobHistory ?? [];

  const remove = async () => {
    if (!job || !confirm(`Delete job ${job.namespace}/${job.name}? Agents remove it on their next sync.`)) return;
    const result = (await request(DeleteJobMutation, { id, expectedBlobId: job.blobId })).deleteJob;
    if (result.__typename === "DeleteJobPayload") navigate("/jobs");
    else setActionError("message" in result ? result.message : "The job could not be deleted");
  };
  const runNow = async () => {
    setActionError(null);
    setRunNotice(null);
    const result = (await request(RunJobNowMutation, { jobId: id })).runJobNow;
    if (result.__typename === "RunJobNowPayload") {
      const asked = result.endpoints.map((e) => e.name).join(", ");
      const offline = result.offline.map((e) => e.name).join(", ");
      setRunNotice(`Asked ${asked} to run it now${offline ? `; offline, not asked: ${offline}` : ""}. The runs appear below.`);
    } else setActionError("message" in result ? result.message : "The job could not be run");
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
      {runNotice && (
        <p className="card once" role="status">
          {runNotice}
        </p>
      )}
      <Loading when={loading && !data} />
      {data && !job && <p>No such job in this tenant's repository.</p>}
      {job && (
        <>
          <header className="page-head">
            <h1 data-title={`${job.name} in ${job.namespace}`}>
              {job.name} <span className="muted">in {job.namespace}</span>{" "}
              <span title={STATUS_MEANING[job.status]} data-testid="job-status">
                <Badge value={job.status} />
              </span>
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
                <>
                  <button className="button primary" onClick={runNow} disabled={!job.enabled || job.paused}>
                    Run now
                  </button>
                  <Link className="button" href={`/jobs/${id}/edit`}>
                    Edit
                  </Link>
                  <Link className="button" href={`/jobs/new?clone=${id}`} data-testid="clone">
                    Clone
                  </Link>
                </>
              )}
              {!job.isDiscovered && (
                <button className="button danger" onClick={remove}>
                  Delete
                </button>
              )}
            </div>
          </header>
          <RepositoryProblems />
          <p className="muted" data-testid="job-summary">
            {job.scheduleDescription} · last run{" "}
            {job.lastRun ? (
              <>
                <Link href={`/runs/${job.lastRun.id}`}>{formatAgo(job.lastRun.startedAt)}</Link> ({job.lastRun.status.toLowerCase()})
              </>
            ) : (
              "never"
            )}{" "}
            · next {job.nextRunAt ? formatTime(job.nextRunAt, job.timezone) : "never"}
          </p>
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
          {!job.isDiscovered && <CheckInSnippet url={job.checkinUrl} command={job.command} />}
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
            <DurationChart runs={runs} />
            <RunTable runs={runs} maxHeight={400} />
          </section>
        </>
      )}
    </>
  );
}

/** Durations of the runs listed below (live), failures marked in red. */
function DurationChart({ runs }: { runs: RunRow[] }) {
  const chart = durationChart(runs);
  if (chart.x.length === 0) return null;
  const longest = Math.max(0, ...chart.series[0].values.map((v) => v ?? 0));
  return (
    <TimeChart
      testId="duration-chart"
      title={`Duration of the last ${chart.x.length} runs`}
      summary={`${chart.x.length} runs, ${chart.failed} failed, longest ${formatDuration(longest)}`}
      x={chart.x}
      series={chart.series}
      axes={[{ scale: "ms", label: "duration", format: (v) => formatDuration(Math.round(v)) }]}
      height={180}
    />
  );
}

/** How a script outside Crontopus' agents reports this job's runs. */
export function checkInSnippet(url: string, command: string): string {
  return [
    "# A token that may check in: crontopus tokens create my-script --scope checkin",
    'rid=$(cat /proc/sys/kernel/random/uuid)',
    `curl -fsS -X POST -H "Authorization: Bearer $CRONTOPUS_TOKEN" "${url}/start?rid=$rid"`,
    `${command}; code=$?`,
    `curl -fsS -X POST -H "Authorization: Bearer $CRONTOPUS_TOKEN" "${url}/$code?rid=$rid"`,
  ].join("\n");
}

function CheckInSnippet({ url, command }: { url: string; command: string }) {
  const snippet = checkInSnippet(url, command);
  return (
    <section className="card" data-testid="checkin">
      <div className="row spread">
        <h2>Check-in URL</h2>
        <CopyButton text={snippet} label="Copy snippet" />
      </div>
      <p>
        <code data-testid="checkin-url">{url}</code>
      </p>
      <p className="muted">
        Report runs from any script with <code>curl</code>: a start, then the exit code. Runs reported this way count
        like an agent&apos;s, so missed runs and failures alert the same.
      </p>
      <pre className="code" tabIndex={0}>
        <code>{snippet}</code>
      </pre>
    </section>
  );
}
