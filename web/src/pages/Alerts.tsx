// Alerts: incidents (live, acknowledge, resolve), snoozes and maintenance windows, channels and
// their delivery log.
import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import {
  AcknowledgeIncidentMutation,
  ChannelsQuery,
  CreateChannelMutation,
  CreateMaintenanceWindowMutation,
  CreateSnoozeMutation,
  DeleteChannelMutation,
  DeleteMaintenanceWindowMutation,
  DeleteSnoozeMutation,
  IncidentEventsSubscription,
  IncidentsQuery,
  QuietQuery,
  ResolveIncidentMutation,
  TestChannelMutation,
} from "../api/alertOperations";
import { request } from "../api/client";
import { useQuery } from "../api/hooks";
import { subscribe } from "../api/live";
import { Badge, ErrorNote, Loading } from "../components/bits";
import type { ChannelKind, IncidentStatus } from "../gql/graphql";
import { formatAgo, formatTime } from "../lib/format";
import { Link } from "../router";

type Outcome = { __typename: string; message?: string; fields?: { path: string[]; message: string }[] };

/** The message for a failed mutation (with its field problems), or null when it worked. */
export function problemOf(result: Outcome): string | null {
  if (!result.__typename.endsWith("Error")) return null;
  const fields = result.fields?.map((f) => `${f.path.join(".")}: ${f.message}`) ?? [];
  return [result.message ?? result.__typename, ...fields].join(" — ");
}

const INCIDENT_BADGE: Record<IncidentStatus, string> = { OPEN: "FAILING", ACKNOWLEDGED: "DEGRADED", RESOLVED: "HEALTHY" };

function Incidents() {
  const [status, setStatus] = useState<string>("OPEN,ACKNOWLEDGED");
  const filter = useMemo(() => (status ? { status: status.split(",") as IncidentStatus[] } : null), [status]);
  const { data, error, loading, reload } = useQuery(IncidentsQuery, { filter, after: null });
  const [problem, setProblem] = useState<string | null>(null);
  // One subscription for the page's life: re-subscribing on every filter change could miss an event.
  const reloadLatest = useRef(reload);
  reloadLatest.current = reload;
  useEffect(() => subscribe(IncidentEventsSubscription, {}, () => reloadLatest.current()), []);
  const act = async (kind: "ack" | "resolve", id: string) => {
    const result =
      kind === "ack"
        ? (await request(AcknowledgeIncidentMutation, { id })).acknowledgeIncident
        : (await request(ResolveIncidentMutation, { id })).resolveIncident;
    setProblem(problemOf(result));
    reload();
  };
  return (
    <section className="card">
      <div className="row spread">
        <h2>Incidents</h2>
        <select value={status} onChange={(e) => setStatus(e.target.value)} aria-label="Incident status">
          <option value="OPEN,ACKNOWLEDGED">Open and acknowledged</option>
          <option value="OPEN">Open</option>
          <option value="RESOLVED">Resolved</option>
          <option value="">All</option>
        </select>
      </div>
      <ErrorNote error={error ?? problem} />
      <Loading when={loading && !data} />
      <div className="table-wrap">
        <table data-testid="incidents">
          <tbody>
            {data?.incidents.nodes.map((i) => (
              <tr key={i.id}>
                <td>
                  <Badge value={INCIDENT_BADGE[i.status]} /> <span className="muted small">{i.status.toLowerCase()}</span>
                </td>
                <td>
                  {i.title}
                  <div className="muted small">
                    {i.rule.toLowerCase().replaceAll("_", " ")}
                    {i.jobId && (
                      <>
                        {" · "}
                        <Link href={`/jobs/${i.jobId}`}>{i.jobName ?? i.jobId.slice(0, 8)}</Link>
                      </>
                    )}
                    {i.endpointId && (
                      <>
                        {" · "}
                        <Link href={`/endpoints/${i.endpointId}`}>endpoint</Link>
                      </>
                    )}
                  </div>
                </td>
                <td className="small">
                  opened {formatAgo(i.openedAt)}
                  {i.acknowledgedBy && <div className="muted">ack by {i.acknowledgedBy}</div>}
                  {i.resolvedAt && <div className="muted">resolved {formatAgo(i.resolvedAt)}{i.resolvedBy ? ` by ${i.resolvedBy}` : ""}</div>}
                </td>
                <td>
                  {i.status === "OPEN" && (
                    <button className="button small" onClick={() => act("ack", i.id)}>
                      Acknowledge
                    </button>
                  )}{" "}
                  {i.status !== "RESOLVED" && (
                    <button className="button small" onClick={() => act("resolve", i.id)}>
                      Resolve
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {data && data.incidents.nodes.length === 0 && <p className="muted">No incidents.</p>}
    </section>
  );
}

/** Turn a `datetime-local` value (the browser's zone) into an ISO instant. */
export function localToIso(value: string): string | null {
  if (!value) return null;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? null : time.toISOString();
}

function Quiet() {
  const { data, error, reload } = useQuery(QuietQuery, {});
  const [problem, setProblem] = useState<string | null>(null);
  const scope = (form: FormData) => {
    const target = String(form.get("scope") || "").trim();
    return /^[0-9a-f-]{36}$/.test(target) ? { jobId: target, namespace: null } : { jobId: null, namespace: target || null };
  };
  const snooze = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const until = new Date(Date.now() + Number(form.get("hours")) * 3600e3).toISOString();
    const result = (await request(CreateSnoozeMutation, { input: { ...scope(form), until, reason: String(form.get("reason") || "") } }))
      .createSnooze;
    setProblem(problemOf(result));
    reload();
  };
  const maintenance = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const input = {
      ...scope(form),
      name: String(form.get("name")),
      startsAt: localToIso(String(form.get("startsAt") || "")),
      endsAt: localToIso(String(form.get("endsAt") || "")),
      releaseHeld: form.get("releaseHeld") === "on",
    };
    setProblem(problemOf((await request(CreateMaintenanceWindowMutation, { input })).createMaintenanceWindow));
    reload();
  };
  const scopeText = (q: { jobId?: string | null; namespace?: string | null }) =>
    q.jobId ? <Link href={`/jobs/${q.jobId}`}>job {q.jobId.slice(0, 8)}</Link> : q.namespace ? `namespace ${q.namespace}` : "the whole tenant";
  return (
    <section className="card">
      <h2>Snoozes and maintenance windows</h2>
      <ErrorNote error={error ?? problem} />
      <form className="filters" onSubmit={snooze}>
        <input name="scope" placeholder="Namespace or job id (empty: everything)" aria-label="Snooze scope" />
        <select name="hours" defaultValue="1" aria-label="Snooze for">
          <option value="1">1 hour</option>
          <option value="4">4 hours</option>
          <option value="24">1 day</option>
          <option value="168">1 week</option>
        </select>
        <input name="reason" placeholder="Reason" aria-label="Reason" />
        <button className="button">Snooze</button>
      </form>
      <form className="filters" onSubmit={maintenance}>
        <input name="name" placeholder="Window name" required aria-label="Window name" />
        <input name="scope" placeholder="Namespace or job id" aria-label="Window scope" />
        <input name="startsAt" type="datetime-local" aria-label="Starts" required />
        <input name="endsAt" type="datetime-local" aria-label="Ends" required />
        <label className="check">
          <input type="checkbox" name="releaseHeld" defaultChecked /> send held alerts after
        </label>
        <button className="button">Add window</button>
      </form>
      <table>
        <tbody>
          {data?.snoozes.map((s) => (
            <tr key={s.id}>
              <td>Snooze of {scopeText(s)}</td>
              <td>until {formatTime(s.until)}</td>
              <td className="muted">
                {s.reason} — {s.createdBy}
              </td>
              <td>
                <button className="button small" onClick={async () => (setProblem(problemOf((await request(DeleteSnoozeMutation, { id: s.id })).deleteSnooze)), reload())}>
                  End now
                </button>
              </td>
            </tr>
          ))}
          {data?.maintenanceWindows.map((w) => (
            <tr key={w.id}>
              <td>
                Window <strong>{w.name}</strong> for {scopeText(w)}
              </td>
              <td>
                {w.schedule ? (
                  <>
                    <code>{w.schedule}</code> for {w.duration} s ({w.timezone})
                  </>
                ) : (
                  `${formatTime(w.startsAt)} → ${formatTime(w.endsAt)}`
                )}
              </td>
              <td className="muted">{w.releaseHeld ? "held alerts sent after" : "held alerts dropped"}</td>
              <td>
                <button
                  className="button small danger"
                  onClick={async () => (setProblem(problemOf((await request(DeleteMaintenanceWindowMutation, { id: w.id })).deleteMaintenanceWindow)), reload())}
                >
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.snoozes.length + data.maintenanceWindows.length === 0 && <p className="muted">Nothing is silenced.</p>}
    </section>
  );
}

export const CHANNEL_TEMPLATES: Record<ChannelKind, object> = {
  WEBHOOK: { url: "https://hooks.example.com/crontopus", secret: "a shared signing secret" },
  SLACK: { url: "https://hooks.slack.com/services/…" },
  EMAIL: { host: "smtp.example.com", security: "starttls", sender: "crontopus@example.com", recipients: ["ops@example.com"] },
  PAGERDUTY: { routing_key: "your integration key" },
};

function Channels() {
  const { data, error, reload } = useQuery(ChannelsQuery, {});
  const [kind, setKind] = useState<ChannelKind>("WEBHOOK");
  const [config, setConfig] = useState(JSON.stringify(CHANNEL_TEMPLATES.WEBHOOK, null, 2));
  const [problem, setProblem] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const pick = useCallback((next: ChannelKind) => {
    setKind(next);
    setConfig(JSON.stringify(CHANNEL_TEMPLATES[next], null, 2));
  }, []);
  const create = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    let parsed: unknown;
    try {
      parsed = JSON.parse(config);
    } catch (e) {
      setProblem(`settings: not JSON (${(e as Error).message})`);
      return;
    }
    const input = { name: String(form.get("name")), kind, config: parsed, isDefault: form.get("isDefault") === "on" };
    setProblem(problemOf((await request(CreateChannelMutation, { input })).createChannel));
    reload();
  };
  const test = async (id: string, name: string) => {
    const result = (await request(TestChannelMutation, { id })).testChannel;
    if (result.__typename === "NotificationDelivery") setNote(`Test to ${name}: ${result.status.toLowerCase()}${result.lastError ? ` — ${result.lastError}` : ""}`);
    else setProblem(problemOf(result));
    reload();
  };
  const remove = async (id: string, name: string) => {
    if (!confirm(`Delete channel ${name}?`)) return;
    setProblem(problemOf((await request(DeleteChannelMutation, { id })).deleteChannel));
    reload();
  };
  return (
    <section className="card">
      <h2>Notification channels</h2>
      <ErrorNote error={error ?? problem} />
      {note && <p className="muted">{note}</p>}
      <table>
        <tbody>
          {data?.channels.map((c) => (
            <tr key={c.id}>
              <td>
                {c.name} {c.isDefault && <span className="badge badge-info">default</span>}
              </td>
              <td>{c.kind.toLowerCase()}</td>
              <td className="truncate">
                <code>{JSON.stringify(c.config)}</code>
              </td>
              <td>
                <button className="button small" onClick={() => test(c.id, c.name)}>
                  Send test
                </button>{" "}
                <button className="button small danger" onClick={() => remove(c.id, c.name)}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="job-form" onSubmit={create}>
        <div className="filters">
          <input name="name" placeholder="Channel name" required aria-label="Channel name" />
          <select value={kind} onChange={(e) => pick(e.target.value as ChannelKind)} aria-label="Channel kind">
            <option value="WEBHOOK">Webhook</option>
            <option value="SLACK">Slack</option>
            <option value="EMAIL">Email (SMTP)</option>
            <option value="PAGERDUTY">PagerDuty</option>
          </select>
          <label className="check">
            <input type="checkbox" name="isDefault" defaultChecked /> default for jobs that name none
          </label>
        </div>
        <label>
          Settings <span className="muted">(JSON; secrets stay on the server)</span>
          <textarea value={config} onChange={(e) => setConfig(e.target.value)} rows={5} aria-label="Channel settings" />
        </label>
        <button className="button primary">Add channel</button>
      </form>
      <h2>Recent deliveries</h2>
      <table>
        <tbody>
          {data?.notificationDeliveries.nodes.map((d) => (
            <tr key={d.id}>
              <td>{formatTime(d.createdAt)}</td>
              <td>
                {d.channelName} <span className="muted">{d.event.toLowerCase()}</span>
              </td>
              <td>
                {d.status.toLowerCase()} {d.attempts > 1 && <span className="muted">({d.attempts} attempts)</span>}
              </td>
              <td className="truncate muted">{d.lastError}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.notificationDeliveries.nodes.length === 0 && <p className="muted">Nothing sent yet.</p>}
    </section>
  );
}

export function AlertsPage() {
  return (
    <>
      <header className="page-head">
        <h1>Alerts</h1>
      </header>
      <Incidents />
      <Quiet />
      <Channels />
    </>
  );
}
