// Health of every job and endpoint over a window.
import { useState } from "react";
import { useQuery, useThrottledEffect } from "../api/hooks";
import { useRunTicks } from "../api/runTicks";
import { HealthQuery } from "../api/operations";
import { useSparklines, type SparkPoints } from "../api/sparklines";
import { Badge, ErrorNote, Loading } from "../components/bits";
import { Sparkline } from "../components/Charts";
import type { HealthWindow } from "../gql/graphql";
import { EMPTY, formatAgo, formatRate } from "../lib/format";
import { isUnknownJob } from "../lib/jobStatus";
import { Link } from "../router";

const WINDOWS: [HealthWindow, string][] = [
  ["H24", "24 h"],
  ["D7", "7 days"],
  ["D30", "30 days"],
  ["D90", "90 days"],
];

export function WindowPicker({ value, onChange }: { value: HealthWindow; onChange: (w: HealthWindow) => void }) {
  return (
    <div className="segmented" role="group" aria-label="Window">
      {WINDOWS.map(([window, label]) => (
        <button
          key={window}
          type="button"
          className={window === value ? "active" : ""}
          aria-pressed={window === value}
          onClick={() => onChange(window)}
        >
          {label}
        </button>
      ))}
    </div>
  );
}

type Figures = { runs: number; failures: number; successRate?: number | null; health: string; lastRunAt?: string | null };

function FigureCells({ figures, line, name, unknown = false }: { figures: Figures; line?: SparkPoints; name: string; unknown?: boolean }) {
  return (
    <>
      <td>
        {/* Runs of a job Git does not hold say nothing about a job's health. */}
        <Badge value={unknown ? "UNKNOWN" : figures.health} />
      </td>
      <td className="num">{figures.runs}</td>
      <td className="num">{figures.failures}</td>
      <td className="num">{formatRate(figures.successRate)}</td>
      <td className="nowrap">{figures.lastRunAt ? formatAgo(figures.lastRunAt) : EMPTY}</td>
      <td>{line ? <Sparkline points={line} label={`Runs of ${name}`} /> : null}</td>
    </>
  );
}

export function HealthPage() {
  const [window, setWindow] = useState<HealthWindow>("H24");
  const { data, error, loading, reload } = useQuery(HealthQuery, { window });
  // Figures and trends follow run events, re-read at most every 5 s however busy the fleet is.
  const ticks = useRunTicks();
  useThrottledEffect(ticks, reload, 5000);
  const jobLines = useSparklines("job", data?.jobHealth.map((j) => j.jobId) ?? [], window, ticks);
  const endpointLines = useSparklines("endpoint", data?.endpointHealth.map((e) => e.endpointId) ?? [], window, ticks);
  return (
    <>
      <header className="page-head">
        <h1>Health</h1>
        <WindowPicker value={window} onChange={setWindow} />
      </header>
      <ErrorNote error={error} />
      <Loading when={loading && !data} />
      <section className="card">
        <h2>By job</h2>
        <div className="table-wrap" tabIndex={0}>
          <table data-testid="job-health-table">
            <thead>
              <tr>
                <th>Job</th>
                <th>Status</th>
                <th>Health</th>
                <th className="num">Runs</th>
                <th className="num">Failures</th>
                <th className="num">Success</th>
                <th>Last run</th>
                <th>Trend</th>
              </tr>
            </thead>
            <tbody>
              {data?.jobHealth.map((job) => {
                const unknown = isUnknownJob(job);
                return (
                  <tr key={job.jobId} data-testid="job-health" data-unknown={unknown || undefined}>
                    <td>
                      {unknown ? (
                        <span title={`Check-ins arrived for job id ${job.jobId}, which no manifest in Git has`}>
                          unknown job <code>{job.jobId.slice(0, 8)}</code>
                        </span>
                      ) : (
                        <>
                          <Link href={`/jobs/${job.jobId}`}>{job.jobName ?? job.jobId}</Link> <span className="muted">{job.namespace}</span>
                        </>
                      )}
                    </td>
                    <td>{job.status ? <Badge value={job.status} /> : <span className="muted">{EMPTY}</span>}</td>
                    <FigureCells figures={job.figures} line={jobLines.get(job.jobId)} name={job.jobName ?? `unknown job ${job.jobId.slice(0, 8)}`} unknown={unknown} />
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        {data && data.jobHealth.length === 0 && <p className="muted">No jobs yet.</p>}
      </section>
      <section className="card">
        <h2>By endpoint</h2>
        <div className="table-wrap" tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th>Endpoint</th>
                <th>Health</th>
                <th className="num">Runs</th>
                <th className="num">Failures</th>
                <th className="num">Success</th>
                <th>Last run</th>
                <th>Trend</th>
              </tr>
            </thead>
            <tbody>
              {data?.endpointHealth.map((endpoint) => (
                <tr key={endpoint.endpointId}>
                  <td>{endpoint.name}</td>
                  <FigureCells figures={endpoint.figures} line={endpointLines.get(endpoint.endpointId)} name={endpoint.name} />
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {data && data.endpointHealth.length === 0 && <p className="muted">No endpoints have reported runs.</p>}
      </section>
    </>
  );
}
