// The front page: fleet and health totals, failing jobs, and the latest runs live.
import { useCallback, useState } from "react";
import { useLiveState, useQuery, useThrottledEffect } from "../api/hooks";
import { useEndpointEvents } from "../api/liveEndpoints";
import { useLiveRuns } from "../api/liveRuns";
import { DashboardQuery, HealthSeriesQuery, RunsQuery } from "../api/operations";
import { Badge, ErrorNote, LiveIndicator } from "../components/bits";
import { TimeChart } from "../components/Charts";
import { RunTable } from "../components/RunTable";
import type { HealthWindow } from "../gql/graphql";
import { healthChart, type SeriesPoint } from "../lib/charts";
import { formatAgo, formatRate } from "../lib/format";
import { gettingStarted } from "../lib/gettingStarted";
import { isUnknownJob, STATUS_MEANING } from "../lib/jobStatus";
import { Link } from "../router";
import { WindowPicker } from "./Health";

const HIDE_CHECKLIST = "crontopus.gettingStarted.hidden";

/** The first steps, shown until each is done (or hidden); ticked from the tenant's data. */
function GettingStarted(facts: { jobs: number; endpoints: number; runs: number }) {
  const [hidden, setHidden] = useState(() => localStorage.getItem(HIDE_CHECKLIST) === "1");
  const steps = gettingStarted(facts);
  if (hidden || steps.every((s) => s.done)) return null;
  return (
    <section className="card" data-testid="getting-started">
      <div className="row spread">
        <h2>Getting started</h2>
        <button
          className="button small"
          onClick={() => {
            localStorage.setItem(HIDE_CHECKLIST, "1");
            setHidden(true);
          }}
        >
          Hide
        </button>
      </div>
      <ol className="plain checklist">
        {steps.map((step) => (
          <li key={step.key} className={step.done ? "done" : ""} data-step={step.key} data-done={step.done}>
            <span className="tick" aria-hidden="true">
              {step.done ? "✓" : "○"}
            </span>
            <span>
              <Link href={step.href} className="step">
                {step.label}
              </Link>{" "}
              <span className="muted small">
                {step.done ? "(done)" : `— ${step.hint}`}
              </span>
            </span>
          </li>
        ))}
      </ol>
    </section>
  );
}

export function DashboardPage() {
  const [window, setWindow] = useState<HealthWindow>("H24");
  const { data, error, reload } = useQuery(DashboardQuery, { window });
  const latest = useQuery(RunsQuery, { filter: null, first: 50, after: null });
  const [runs, , batches] = useLiveRuns(latest.data?.runs.nodes ?? null, null, 500);
  // The totals follow live events too, re-read at most every 5 s however busy the fleet is.
  const [figuresStale, setFiguresStale] = useState(0);
  // Hourly points up to 7 days (168 of them), daily beyond.
  const series = useQuery(HealthSeriesQuery, { tenant: true, window, bucket: window === "D7" ? "HOUR" : null });
  useThrottledEffect(batches, reload, 5000);
  useThrottledEffect(batches, series.reload, 5000);
  useThrottledEffect(figuresStale, reload, 5000);
  useEndpointEvents(useCallback(() => setFiguresStale((n) => n + 1), []));
  const live = useLiveState();
  const d = data?.dashboard;
  return (
    <>
      <header className="page-head">
        <h1>Dashboard</h1>
        <div className="row">
          <WindowPicker value={window} onChange={setWindow} />
          <LiveIndicator state={live} />
        </div>
      </header>
      <ErrorNote error={error ?? latest.error} />
      {d && d.needsAttention.length > 0 && (
        <section className="card attention" data-testid="needs-attention">
          <h2>Needs attention</h2>
          <ul className="plain">
            {d.needsAttention.map((job) => (
              <li key={job.id} data-job-status={job.status}>
                <Badge value={job.status} /> <Link href={`/jobs/${job.id}`}>{job.name}</Link>{" "}
                <span className="muted">
                  {job.namespace} · {STATUS_MEANING[job.status]} · last run {formatAgo(job.lastRun?.startedAt)}
                </span>
              </li>
            ))}
          </ul>
        </section>
      )}
      {/* After "Needs attention": what is broken comes before what is left to set up. */}
      {d && latest.data && <GettingStarted jobs={d.jobsTotal} endpoints={d.endpointsTotal} runs={runs.length} />}
      <section className="tiles">
        <div className="tile">
          <span className="tile-value" data-testid="endpoints-online">
            {d ? d.endpointsOnline : "…"}
          </span>
          <span className="tile-label">endpoints online</span>
        </div>
        <div className="tile">
          <span className="tile-value">{d ? d.endpointsOffline : "…"}</span>
          <span className="tile-label">offline of {d?.endpointsTotal ?? "…"}</span>
        </div>
        <div className="tile">
          <span className="tile-value">{d ? d.figures.runs : "…"}</span>
          <span className="tile-label">runs</span>
        </div>
        <div className="tile">
          <span className="tile-value">{d ? d.figures.failures : "…"}</span>
          <span className="tile-label">failures ({formatRate(d?.figures.successRate)} ok)</span>
        </div>
        <div className="tile">
          <span className="tile-value">{d ? d.jobsTotal : "…"}</span>
          <span className="tile-label">jobs</span>
        </div>
      </section>
      {d && d.failingJobs.length > 0 && (
        <section className="card">
          <h2>Failing jobs</h2>
          <ul className="plain">
            {d.failingJobs.map((job) => (
              <li key={job.jobId}>
                {isUnknownJob(job) ? (
                  <>
                    <Badge value="UNKNOWN" /> unknown job <code>{job.jobId.slice(0, 8)}</code>{" "}
                  </>
                ) : (
                  <>
                    <Badge value={job.figures.health} /> <Link href={`/jobs/${job.jobId}`}>{job.jobName}</Link>{" "}
                  </>
                )}
                <span className="muted">
                  {job.namespace} · {job.figures.failures}/{job.figures.runs} failed · last {formatAgo(job.figures.lastRunAt)}
                </span>
              </li>
            ))}
          </ul>
        </section>
      )}
      {/* Charts of an empty window would only draw axes. */}
      {series.data && series.data.healthSeries.points.some((p) => p.runs > 0) && <Timelines points={series.data.healthSeries.points} hourly={series.data.healthSeries.bucket === "HOUR"} />}
      <section className="card">
        <div className="row spread">
          <h2>Latest runs</h2>
          <Link href="/runs">Run log →</Link>
        </div>
        <RunTable runs={runs} />
      </section>
    </>
  );
}

/** The tenant's success rate and runs per bucket over the window. */
function Timelines({ points, hourly }: { points: SeriesPoint[]; hourly: boolean }) {
  const chart = healthChart(points);
  const runs = points.reduce((total, p) => total + p.runs, 0);
  const failures = points.reduce((total, p) => total + p.failures, 0);
  const per = hourly ? "hour" : "day";
  return (
    <section className="card charts" data-testid="timelines">
      <TimeChart
        testId="success-rate-chart"
        title="Success rate"
        summary={`${runs - failures} of ${runs} runs succeeded over the window`}
        x={chart.x}
        series={[chart.rate]}
        axes={[{ scale: "rate", label: "% ok", range: [0, 100] }]}
        height={160}
      />
      <TimeChart
        testId="runs-chart"
        title={`Runs per ${per}`}
        summary={`${runs} runs, ${failures} failed, most in one ${per}: ${Math.max(0, ...points.map((p) => p.runs))}`}
        x={chart.x}
        series={[chart.runs, { ...chart.runs, label: "Failed", values: points.map((p) => p.failures || null), colour: "bad" }]}
        axes={[{ scale: "runs", label: `runs / ${per}` }]}
        height={160}
      />
    </section>
  );
}
