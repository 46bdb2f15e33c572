// Endpoints: list with status/platform filters and search, expandable job instances,
// detail, revoke; and enrollment tokens shown once.
import { Fragment, useEffect, useMemo, useState, type FormEvent } from "react";
import { useEndpointEvents } from "../api/liveEndpoints";
import { request } from "../api/client";
import { useQuery } from "../api/hooks";
import { usePaged } from "../api/paging";
import { loadSession } from "../api/session";
import {
  ApproveEnrollmentMutation,
  CreateEnrollmentTokenMutation,
  EndpointQuery,
  EndpointsQuery,
  EnrollmentTokensQuery,
  PendingEnrollmentsQuery,
  RejectEnrollmentMutation,
  RevokeEndpointMutation,
  RevokeEnrollmentTokenMutation,
} from "../api/endpointOperations";
import { Badge, CopyButton, ErrorNote, FailureReason, LoadMore, Loading } from "../components/bits";
import { LabelEditor } from "../components/LabelEditor";
import type { EndpointStatus } from "../gql/graphql";
import { formatAgo, formatTime, shortCommit } from "../lib/format";
import { Link, navigate, useLocation } from "../router";

const STATUSES: EndpointStatus[] = ["ONLINE", "OFFLINE", "REVOKED"];

function EndpointJobs({ id }: { id: string }) {
  const { data, error } = useQuery(EndpointQuery, { id });
  if (error) return <ErrorNote error={error} />;
  const jobs = data?.endpoint?.jobs ?? [];
  return (
    <table className="inner">
      <tbody>
        {jobs.map((j) => (
          <tr key={j.jobId}>
            <td>{j.job ? <Link href={`/jobs/${j.jobId}`}>{j.job.name}</Link> : <span className="muted">{j.jobId}</span>}</td>
            <td>
              {j.state ?? "not reported"}
              <FailureReason reason={j.failureReason} />
            </td>
            <td>{j.drift ? <span className="badge badge-warn">drift: {j.driftReason}</span> : "in sync"}</td>
            <td className="muted">{formatAgo(j.reportedAt)}</td>
          </tr>
        ))}
        {data && jobs.length === 0 && (
          <tr>
            <td className="muted">No jobs on this endpoint.</td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

export function EndpointsPage() {
  const { query } = useLocation();
  const search = query.toString();
  const filter = useMemo(() => {
    const q = new URLSearchParams(search);
    const status = q.get("status") as EndpointStatus | null;
    return {
      status: status && STATUSES.includes(status) ? status : null,
      platform: q.get("platform") || null,
      search: q.get("q") || null,
    };
  }, [search]);
  const { data, error, loading, reload, nodes, hasMore, loadingMore, loadMore } = usePaged(EndpointsQuery, { filter, after: null }, (r) => r.endpoints);
  useEndpointEvents(reload);
  const [open, setOpen] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const apply = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(event.currentTarget)) if (value) params.set(key, String(value));
    navigate(`/endpoints${params.size ? `?${params}` : ""}`);
  };
  const revoke = async (id: string, name: string) => {
    if (!confirm(`Revoke endpoint ${name}? Its agent stops being able to talk to the server.`)) return;
    const result = (await request(RevokeEndpointMutation, { id })).revokeEndpoint;
    setProblem("message" in result ? result.message : null);
    reload();
  };
  return (
    <>
      <header className="page-head">
        <h1>Endpoints</h1>
        <Link className="button primary" href="/install">
          Install an agent
        </Link>
      </header>
      <form className="filters" onSubmit={apply} key={search}>
        <input name="q" placeholder="Search name or host" defaultValue={filter.search ?? ""} aria-label="Search" />
        <select name="status" defaultValue={filter.status ?? ""} aria-label="Status">
          <option value="">Any status</option>
          {STATUSES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
        <input name="platform" placeholder="Platform (linux, windows)" defaultValue={filter.platform ?? ""} aria-label="Platform" />
        <button className="button">Filter</button>
      </form>
      <ErrorNote error={error ?? problem} />
      <Loading when={loading && !data} />
      <PendingEnrollmentsSection onDecided={reload} />
      <section className="card">
        <div className="table-wrap" tabIndex={0}>
          <table data-testid="endpoints-table">
            <thead>
              <tr>
                <th />
                <th>Name</th>
                <th>Status</th>
                <th>Platform</th>
                <th>Driver</th>
                <th>Commit</th>
                <th>Last seen</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {nodes.map((e) => (
                <Fragment key={e.id}>
                  <tr>
                    <td>
                      <button className="button small" aria-expanded={open === e.id} aria-label={`Jobs of ${e.name}`} onClick={() => setOpen(open === e.id ? null : e.id)}>
                        {open === e.id ? "▾" : "▸"}
                      </button>
                    </td>
                    <td>
                      <Link href={`/endpoints/${e.id}`}>{e.name}</Link> <span className="muted">{e.hostname}</span>
                    </td>
                    <td>
                      <Badge value={e.status} />
                    </td>
                    <td>{e.platform}</td>
                    <td>{e.driver ?? "—"}</td>
                    <td>
                      <code>{shortCommit(e.appliedCommit)}</code>
                    </td>
                    <td>{formatAgo(e.lastSeenAt)}</td>
                    <td>
                      {e.status !== "REVOKED" && (
                        <button className="button small danger" onClick={() => revoke(e.id, e.name)}>
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                  {open === e.id && (
                    <tr>
                      <td colSpan={8}>
                        <EndpointJobs id={e.id} />
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
        {data && nodes.length === 0 && (
          <p className="muted">
            No endpoints. <Link href="/install">Install an agent</Link>.
          </p>
        )}
        <LoadMore shown={nodes.length} hasMore={hasMore} loading={loadingMore} onClick={loadMore} />
      </section>
      <EnrollmentTokensSection />
    </>
  );
}

// Known machines that enrolled again without their token (or whose endpoint was revoked):
// they wait here for an admin. Others are refused the list and see nothing of it.
function PendingEnrollmentsSection({ onDecided }: { onDecided: () => void }) {
  const { data, reload } = useQuery(PendingEnrollmentsQuery, {});
  const [problem, setProblem] = useState<string | null>(null);
  const pending = data?.pendingEnrollments ?? [];
  if (pending.length === 0) return null;
  const decide = async (id: string, approve: boolean, what: string) => {
    if (approve && !confirm(`Let ${what} take its endpoint over? The endpoint's current token stops working.`)) return;
    const result = approve
      ? (await request(ApproveEnrollmentMutation, { id })).approveEnrollment
      : (await request(RejectEnrollmentMutation, { id })).rejectEnrollment;
    setProblem("message" in result ? result.message : null);
    reload();
    onDecided();
  };
  return (
    <section className="card" data-testid="pending-enrollments">
      <h2>Waiting for approval</h2>
      <p className="muted">
        These machines enrolled with an id that is enrolled already, without that endpoint's token, or their endpoint was revoked. Approve only
        a machine you expect.
      </p>
      <ErrorNote error={problem} />
      <div className="table-wrap" tabIndex={0}>
        <table>
          <thead>
            <tr>
              <th>Machine</th>
              <th>Endpoint now</th>
              <th>Asked from</th>
              <th>Asked</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {pending.map((p) => (
              <tr key={p.id}>
                <td>
                  {p.name} <span className="muted">{p.hostname}</span>
                  <div className="muted">
                    <code>{p.machineId}</code> · agent {p.agentVersion} · token “{p.enrollmentToken}”
                  </div>
                </td>
                <td>
                  <Link href={`/endpoints/${p.endpoint.id}`}>{p.endpoint.name}</Link> <Badge value={p.endpoint.status} />
                </td>
                <td>{p.requestedFrom}</td>
                <td>{formatAgo(p.requestedAt)}</td>
                <td>
                  <button className="button small primary" onClick={() => decide(p.id, true, p.name)}>
                    Approve
                  </button>{" "}
                  <button className="button small" onClick={() => decide(p.id, false, p.name)}>
                    Reject
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function EndpointDetailPage({ id }: { id: string }) {
  const { data, error, loading, reload } = useQuery(EndpointQuery, { id });
  // A label change re-reads the endpoint, and with it the jobs its labels now target.
  const [version, setVersion] = useState(0);
  useEffect(() => {
    if (version) reload();
    // eslint-disable-next-line react-hooks/exhaustive-deps -- only a saved change re-reads
  }, [version]);
  const role = loadSession()?.role;
  const canEdit = role === "OWNER" || role === "ADMIN";
  const e = data?.endpoint;
  return (
    <>
      <header className="page-head">
        <h1>Endpoint {e?.name ?? id.slice(0, 8)}</h1>
        <Link href="/endpoints">← Endpoints</Link>
      </header>
      <ErrorNote error={error} />
      <Loading when={loading && !data} />
      {data && !e && <p>No such endpoint.</p>}
      {e && (
        <>
          <section className="card">
            <dl className="facts">
              <dt>Status</dt>
              <dd>
                <Badge value={e.status} />
              </dd>
              <dt>Host</dt>
              <dd>{e.hostname}</dd>
              <dt>Platform</dt>
              <dd>{e.platform}</dd>
              <dt>Agent</dt>
              <dd>{e.agentVersion}</dd>
              <dt>Driver</dt>
              <dd>
                {e.driver ?? "—"} <span className="muted">(available: {e.drivers.join(", ") || "none"})</span>
              </dd>
              <dt>Labels</dt>
              <dd>
                <LabelEditor endpointId={id} labels={e.labels} canEdit={canEdit} onSaved={() => setVersion((n) => n + 1)} />
                {canEdit && <p className="muted small">The agent installs or removes the jobs these labels target with its next heartbeat.</p>}
              </dd>
              <dt>Applied commit</dt>
              <dd>
                <code>{shortCommit(e.appliedCommit)}</code>
              </dd>
              <dt>Enrolled</dt>
              <dd>{formatTime(e.enrolledAt)}</dd>
              <dt>Last seen</dt>
              <dd>{formatAgo(e.lastSeenAt)}</dd>
            </dl>
          </section>
          <section className="card">
            <h2>Jobs</h2>
            <EndpointJobs key={version} id={id} />
          </section>
          <section className="card">
            <h2>Runs</h2>
            <Link href={`/runs?endpoint=${id}`}>Runs of this endpoint →</Link>
          </section>
        </>
      )}
    </>
  );
}

/** Create an enrollment token and hand its plaintext (shown once) to `onToken`. */
export function EnrollmentTokenMaker({ onToken }: { onToken: (token: string) => void }) {
  const [plaintext, setPlaintext] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const make = async () => {
    const result = (await request(CreateEnrollmentTokenMutation, { name: `install ${new Date().toISOString().slice(0, 16)}`, maxUses: null, expiresInDays: 7 }))
      .createEnrollmentToken;
    if (result.__typename === "CreatedEnrollmentToken") {
      setPlaintext(result.plaintext);
      onToken(result.plaintext);
      setProblem(null);
    } else setProblem("message" in result ? result.message : "Creating the enrollment token failed");
  };
  return (
    <div className="row">
      <button type="button" className="button primary" onClick={make}>
        {plaintext ? "Make another token" : "Make an enrollment token (7 days)"}
      </button>
      {plaintext && <span className="muted">Shown once; it is already in the commands below.</span>}
      <ErrorNote error={problem} />
    </div>
  );
}

function EnrollmentTokensSection() {
  const { data, error, reload } = useQuery(EnrollmentTokensQuery, {});
  const [created, setCreated] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const create = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const target = event.currentTarget;
    const form = new FormData(target);
    const uses = String(form.get("maxUses") || "");
    const days = String(form.get("days") || "");
    const result = (
      await request(CreateEnrollmentTokenMutation, {
        name: String(form.get("name")),
        maxUses: uses ? Number(uses) : null,
        expiresInDays: days ? Number(days) : null,
      })
    ).createEnrollmentToken;
    if (result.__typename === "CreatedEnrollmentToken") {
      setCreated(result.plaintext);
      target.reset();
    } else setProblem("message" in result ? result.message : "Creating the token failed");
    reload();
  };
  const revoke = async (id: string) => {
    const result = (await request(RevokeEnrollmentTokenMutation, { id })).revokeEnrollmentToken;
    setProblem("message" in result ? result.message : null);
    reload();
  };
  return (
    <section className="card">
      <h2>Enrollment tokens</h2>
      <ErrorNote error={error ?? problem} />
      {created && (
        <div className="once row" role="alert">
          <code className="secret" data-testid="enrollment-plaintext">
            {created}
          </code>
          <CopyButton text={created} />
          <span className="muted">Shown this once only.</span>
        </div>
      )}
      <form className="filters" onSubmit={create}>
        <input name="name" placeholder="Token name" required aria-label="Enrollment token name" />
        <input name="maxUses" placeholder="Max uses" inputMode="numeric" aria-label="Max uses" />
        <input name="days" placeholder="Expires in days (default 7)" inputMode="numeric" aria-label="Expires in days" />
        <button className="button primary">Create enrollment token</button>
      </form>
      <div className="table-wrap" tabIndex={0}>
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Ends in</th>
              <th>Uses</th>
              <th>Expires</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {data?.enrollmentTokens.map((t) => (
              <tr key={t.id} className={t.revokedAt ? "revoked" : ""}>
                <td>{t.name}</td>
                <td>
                  <code>…{t.hint}</code>
                </td>
                <td>
                  {t.useCount}
                  {t.maxUses != null ? ` / ${t.maxUses}` : ""}
                </td>
                <td className="nowrap">{t.expiresAt ? formatTime(t.expiresAt) : "never"}</td>
                <td>
                  {t.revokedAt ? (
                    <span className="muted">revoked</span>
                  ) : (
                    <button className="button small danger" onClick={() => revoke(t.id)}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
