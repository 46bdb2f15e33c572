// The runs table, virtualised: only the rows in view are in the DOM, so a thousand
// live events a minute cost a handful of row renders each.
import { memo, useEffect, useRef, useState } from "react";
import type { RunRow } from "../lib/runs";
import { formatAgo, formatDuration } from "../lib/format";
import { Link } from "../router";
import { Badge } from "./bits";

export const ROW_HEIGHT = 40;
const OVERSCAN = 6;

/** Which rows to render for a viewport: [first, last) indexes. */
export function visibleRange(scrollTop: number, viewport: number, count: number): [number, number] {
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(count, Math.ceil((scrollTop + viewport) / ROW_HEIGHT) + OVERSCAN);
  return [first, last];
}

const Row = memo(function Row({ run, top, now }: { run: RunRow; top: number; now: number }) {
  return (
    <div className="vrow" role="row" style={{ top }} data-run-id={run.id}>
      <span role="cell" className="col-status">
        <Badge value={run.status} />
        {run.stuck && <Badge value="STUCK" />}
      </span>
      <span role="cell" className="col-job">
        <Link href={`/runs/${run.id}`}>{run.jobName ?? run.jobId.slice(0, 8)}</Link>
        {run.unknownJob && <span className="muted"> (unknown job)</span>}
        {run.trigger === "MANUAL" && <span className="muted"> (run now)</span>}
      </span>
      <span role="cell" className="col-ns muted">
        {run.namespace ?? "—"}
      </span>
      <span role="cell" className="col-time" title={run.startedAt}>
        {formatAgo(run.startedAt, now)}
      </span>
      <span role="cell" className="col-duration">
        {formatDuration(run.durationMs)}
      </span>
      <span role="cell" className="col-exit">
        {run.exitCode ?? "—"}
      </span>
    </div>
  );
});

export function RunTable({ runs, maxHeight = 520 }: { runs: RunRow[]; maxHeight?: number }) {
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 15_000);
    return () => clearInterval(timer);
  }, []);
  const height = Math.min(maxHeight, Math.max(runs.length, 1) * ROW_HEIGHT);
  const [first, last] = visibleRange(scrollTop, height, runs.length);
  return (
    <div className="vtable" role="table" aria-label="Runs" aria-rowcount={runs.length}>
      <div className="vrow vhead" role="row">
        <span role="columnheader" className="col-status">Status</span>
        <span role="columnheader" className="col-job">Job</span>
        <span role="columnheader" className="col-ns">Namespace</span>
        <span role="columnheader" className="col-time">Started</span>
        <span role="columnheader" className="col-duration">Duration</span>
        <span role="columnheader" className="col-exit">Exit</span>
      </div>
      <div
        className="vbody"
        ref={scroller}
        style={{ height }}
        onScroll={(event) => setScrollTop(event.currentTarget.scrollTop)}
        data-testid="runs-table"
      >
        <div style={{ height: runs.length * ROW_HEIGHT, position: "relative" }}>
          {runs.slice(first, last).map((run, i) => (
            <Row key={run.id} run={run} top={(first + i) * ROW_HEIGHT} now={now} />
          ))}
        </div>
        {runs.length === 0 && <p className="muted empty">No runs yet.</p>}
      </div>
    </div>
  );
}
