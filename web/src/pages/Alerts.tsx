// Alerts: incidents (live, acknowledge, resolve), snoozes and maintenance windows, channels and
// their delivery log.
import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import {
  AcknowledgeIncidentMutation,
  ChannelsQuery,
  CreateChannelMutation,
  DeliveriesQuery,
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
import { useDebounced, useQuery } from "../api/hooks";
import { usePaged } from "../api/paging";
import { subscribe } from "../api/live";
import { Badge, ErrorNote, LoadMore, Loading } from "../components/bits";
import { JobNameInput, NamespaceSelect } from "../components/pickers";
import { JobNamesQuery } from "../api/operations";
import type { ChannelKind, DeliveryStatus, IncidentStatus } from "../gql/graphql";
import { CHANNEL_FIELDS, CHANNEL_KINDS, channelConfig, channelFieldOf } from "../lib/channels";
import { EMPTY, formatAgo, formatTime } from "../lib/format";
import { Link } from "../router";
import { mutationProblem, type MutationAnswer } from "../lib/mutationErrors";

/** The message for a failed mutation (with its field problems), or null when it worked. */
export function problemOf(result: MutationAnswer): string | null {
  return mutationProblem(result, result.__typename);
}

const INCIDENT_BADGE: Record<IncidentStatus, string> = { OPEN: "FAILING", ACKNOWLEDGED: "DEGRADED", RESOLVED: "HEALTHY" };

function Incidents() {
  const [status, setStatus] = useState<string>("OPEN,ACKNOWLEDGED");
  const [search, setSearch] = useState("");
  const text = useDebounced(search.trim(), 300);
  const filter = useMemo(() => ({ status: status ? (status.split(",") as IncidentStatus[]) : null, search: text || null }), [status, text]);
  const { data, error, loading, reload, nodes, hasMore, loadingMore, loadMore } = usePaged(IncidentsQuery, { filter, after: null }, (r) => r.incidents);
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
        <div className="row">
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="Search titles" aria-label="Search incidents" />
          <select value={status} onChange={(e) => setStatus(e.target.value)} aria-label="Incident status">
            <option value="OPEN,ACKNOWLEDGED">Open and acknowledged</option>
            <option value="OPEN">Open</option>
            <option value="RESOLVED">Resolved</option>
            <option value="">All</option>
          </select>
        </div>
      </div>
      <ErrorNote error={error ?? problem} />
      <Loading when={loading && !data} />
      <div className="table-wrap" tabIndex={0}>
        <table data-testid="incidents">
          <tbody>
            {nodes.map((i) => (
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
      {data && nodes.length === 0 && <p className="muted">{text ? "No incident matches." : "No incidents."}</p>}
      <LoadMore shown={nodes.length} hasMore={hasMore} loading={loadingMore} onClick={loadMore} />
    </section>
  );
}

/** Turn a `datetime-local` value (the browser's zone) into an ISO instant. */
export function localToIso(value: string): string | null {
  if (!value) return null;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? null : time.toISOString();
}

type ScopeKind = "tenant" | "namespace" | "job";
type Scope = { kind: ScopeKind; namespace: string; job: string; jobId: string | null };
const NO_SCOPE: Scope = { kind: "tenant", namespace: "", job: "", jobId: null };

/** What a snooze or window silences: everything, a namespace picked from the list, or a job
 * picked by name; a job's name can never become a namespace by accident. */
function ScopeFields({ scope, onChange, label, problem }: { scope: Scope; onChange: (scope: Scope) => void; label: string; problem?: string | null }) {
  const id = `${label.toLowerCase().replace(/\W+/g, "-")}-problem`;
  return (
    <>
      <select value={scope.kind} onChange={(e) => onChange({ ...NO_SCOPE, kind: e.target.value as ScopeKind })} aria-label={`${label}: what`}>
        <option value="tenant">Everything</option>
        <option value="namespace">A namespace</option>
        <option value="job">A job</option>
      </select>
      {scope.kind === "namespace" && (
        <NamespaceSelect value={scope.namespace} onChange={(namespace) => onChange({ ...scope, namespace })} label={`${label}: namespace`} empty="Pick a namespace" />
      )}
      {scope.kind === "job" && (
        <JobNameInput
          value={scope.job}
          onChange={(job, picked) => onChange({ ...scope, job, jobId: picked?.id ?? null })}
          label={`${label}: job`}
          placeholder="Job name"
          invalid={problem ? { "aria-invalid": true, "aria-describedby": id } : {}}
        />
      )}
      {problem && (
        <span className="error field-error" id={id} data-testid="scope-problem">
          {problem}
        </span>
      )}
    </>
  );
}

/** The jobId or namespace a scope stands for, or why it stands for none. */
async function resolveScope(scope: Scope): Promise<{ jobId: string | null; namespace: string | null } | string> {
  if (scope.kind === "tenant") return { jobId: null, namespace: null };
  if (scope.kind === "namespace") return scope.namespace ? { jobId: null, namespace: scope.namespace } : "Pick a namespace.";
  const typed = scope.job.trim();
  if (!typed) return "Type a job's name and pick it from the list.";
  if (scope.jobId) return { jobId: scope.jobId, namespace: null };
  // "namespace/name" tells apart jobs of one name in two namespaces.
  const [namespace, name] = typed.includes("/") ? typed.split("/", 2) : [null, typed];
  const found = (await request(JobNamesQuery, { search: name })).jobs.nodes.filter((j) => j.name === name && (!namespace || j.namespace === namespace));
  if (found.length === 1) return { jobId: found[0].id, namespace: null };
  if (found.length === 0) return `No job is named ${typed}: pick one from the list.`;
  return `${name} names jobs in ${found.map((j) => j.namespace).join(" and ")}: write namespace/${name}.`;
}

function Quiet() {
  const { data, error, reload } = useQuery(QuietQuery, {});
  const [problem, setProblem] = useState<string | null>(null);
  const [snoozeScope, setSnoozeScope] = useState<Scope>(NO_SCOPE);
  const [windowScope, setWindowScope] = useState<Scope>(NO_SCOPE);
  const [scopeProblem, setScopeProblem] = useState<{ form: "snooze" | "window"; message: string } | null>(null);
  const snooze = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const target = event.currentTarget;
    const form = new FormData(target);
    const scope = await resolveScope(snoozeScope);
    if (typeof scope === "string") return setScopeProblem({ form: "snooze", message: scope });
    setScopeProblem(null);
    const until = new Date(Date.now() + Number(form.get("hours")) * 3600e3).toISOString();
    const result = (await request(CreateSnoozeMutation, { input: { ...scope, until, reason: String(form.get("reason") || "") } })).createSnooze;
    setProblem(problemOf(result));
    if (!problemOf(result)) {
      setSnoozeScope(NO_SCOPE);
      target.reset();
    }
    reload();
  };
  const maintenance = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const scope = await resolveScope(windowScope);
    if (typeof scope === "string") return setScopeProblem({ form: "window", message: scope });
    setScopeProblem(null);
    const input = {
      ...scope,
      name: String(form.get("name")),
      startsAt: localToIso(String(form.get("startsAt") || "")),
      endsAt: localToIso(String(form.get("endsAt") || "")),
      releaseHeld: form.get("releaseHeld") === "on",
    };
    setProblem(problemOf((await request(CreateMaintenanceWindowMutation, { input })).createMaintenanceWindow));
    reload();
  };
  const scopeText = (q: { jobId?: string | null; jobName?: string | null; namespace?: string | null }) =>
    q.jobId ? (
      <Link href={`/jobs/${q.jobId}`}>job {q.jobName ?? q.jobId.slice(0, 8)}</Link>
    ) : q.namespace ? (
      `namespace ${q.namespace}`
    ) : (
      "the whole tenant"
    );
  return (
    <section className="card">
      <h2>Snoozes and maintenance windows</h2>
      <ErrorNote error={error ?? problem} />
      <form className="filters" onSubmit={snooze}>
        <ScopeFields
          scope={snoozeScope}
          onChange={(s) => (setSnoozeScope(s), setScopeProblem(null))}
          label="Snooze"
          problem={scopeProblem?.form === "snooze" ? scopeProblem.message : null}
        />
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
        <ScopeFields
          scope={windowScope}
          onChange={(s) => (setWindowScope(s), setScopeProblem(null))}
          label="Window"
          problem={scopeProblem?.form === "window" ? scopeProblem.message : null}
        />
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
              <td className="nowrap">until {formatTime(s.until)}</td>
              <td className="muted">
                {s.reason || EMPTY} · by {s.createdBy}
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

/** A channel's settings as plain words, secrets left as the server shows them. */
function configText(config: Record<string, unknown>): string {
  return Object.entries(config)
    .map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(", ") : String(value)}`)
    .join(" · ");
}

/** A delivery that failed for good, or whose last attempt failed and waits to be retried. */
export function deliveryFailed(delivery: { status: string; lastError?: string | null }): boolean {
  return delivery.status === "FAILED" || (delivery.status !== "DELIVERED" && !!delivery.lastError);
}

function Channels() {
  const { data, error, reload: reloadChannels } = useQuery(ChannelsQuery, {});
  // A test send adds a delivery: the log below is read again.
  const [deliveries, setDeliveries] = useState(0);
  const reload = () => {
    reloadChannels();
    setDeliveries((n) => n + 1);
  };
  const [kind, setKind] = useState<ChannelKind>("WEBHOOK");
  const [values, setValues] = useState<Record<string, string>>({});
  const [fieldProblems, setFieldProblems] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [note, setNote] = useState<{ text: string; failed: boolean } | null>(null);
  const pick = useCallback((next: ChannelKind) => {
    setKind(next);
    setValues({});
    setFieldProblems({});
  }, []);
  const put = (key: string, value: string) => {
    setValues((v) => ({ ...v, [key]: value }));
    setFieldProblems(({ [key]: _, ...rest }) => rest);
  };
  const create = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const target = event.currentTarget;
    const form = new FormData(target);
    const input = { name: String(form.get("name")), kind, config: channelConfig(kind, values), isDefault: form.get("isDefault") === "on" };
    const result = (await request(CreateChannelMutation, { input })).createChannel;
    const byField: Record<string, string> = {};
    const rest: string[] = [];
    if ("fields" in result && result.fields)
      for (const f of result.fields) {
        const key = channelFieldOf(f.path);
        if (key && (key === "name" || CHANNEL_FIELDS[kind].some((c) => c.key === key))) byField[key] = f.message;
        else rest.push(`${f.path.join(".")}: ${f.message}`);
      }
    setFieldProblems(byField);
    const failed = problemOf({ ...result, fields: [] });
    setProblem(failed ? [failed, ...rest].join(" — ") : null);
    if (!failed) {
      setValues({});
      target.reset();
    }
    reload();
  };
  const test = async (id: string, name: string) => {
    const result = (await request(TestChannelMutation, { id })).testChannel;
    if (result.__typename === "NotificationDelivery")
      setNote({ text: `Test to ${name}: ${result.status.toLowerCase()}${result.lastError ? ` — ${result.lastError}` : ""}`, failed: deliveryFailed(result) });
    else setProblem(problemOf(result));
    reload();
  };
  const remove = async (id: string, name: string) => {
    if (!confirm(`Delete channel ${name}?`)) return;
    setProblem(problemOf((await request(DeleteChannelMutation, { id })).deleteChannel));
    reload();
  };
  const describe = (key: string) => (fieldProblems[key] ? { "aria-invalid": true as const, "aria-describedby": `channel-${key}-error` } : {});
  const fieldError = (key: string) =>
    fieldProblems[key] ? (
      <span className="error field-error" id={`channel-${key}-error`} data-testid="field-error" data-field={key}>
        {fieldProblems[key]}
      </span>
    ) : null;
  return (
    <section className="card">
      <h2>Notification channels</h2>
      <ErrorNote error={error ?? problem} />
      {note && (
        <p className={note.failed ? "error" : "muted"} role="status">
          {note.text}
        </p>
      )}
      <div className="table-wrap" tabIndex={0}>
        <table>
          <tbody>
            {data?.channels.map((c) => (
              <tr key={c.id}>
                <td>
                  {c.name} {c.isDefault && <span className="badge badge-info">default</span>}
                </td>
                <td>{c.kind.toLowerCase()}</td>
                <td className="muted small wrap-anywhere">{configText(c.config as Record<string, unknown>)}</td>
                <td className="actions">
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
      </div>
      <form className="job-form" onSubmit={create} data-testid="channel-form">
        <h3>Add a channel</h3>
        <div className="grid2">
          <label>
            Name
            <input name="name" placeholder="ops-webhook" required {...describe("name")} />
            {fieldError("name")}
          </label>
          <label>
            Kind
            <select value={kind} onChange={(e) => pick(e.target.value as ChannelKind)} name="kind">
              {CHANNEL_KINDS.map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          {CHANNEL_FIELDS[kind].map((field) => (
            <label key={`${kind}.${field.key}`}>
              <span>
                {field.label} {field.hint && <span className="muted">({field.hint})</span>}
              </span>
              {field.type === "select" ? (
                <select name={`config.${field.key}`} value={values[field.key] ?? field.options?.[0]} onChange={(e) => put(field.key, e.target.value)} {...describe(field.key)}>
                  {field.options?.map((option) => (
                    <option key={option}>{option}</option>
                  ))}
                </select>
              ) : (
                <input
                  name={`config.${field.key}`}
                  type={field.type === "secret" ? "password" : "text"}
                  autoComplete={field.type === "secret" ? "new-password" : "off"}
                  inputMode={field.type === "number" ? "numeric" : undefined}
                  placeholder={field.placeholder}
                  required={field.required}
                  value={values[field.key] ?? ""}
                  onChange={(e) => put(field.key, e.target.value)}
                  {...describe(field.key)}
                />
              )}
              {fieldError(field.key)}
            </label>
          ))}
        </div>
        <label className="check">
          <input type="checkbox" name="isDefault" defaultChecked /> default for jobs that name none
        </label>
        <p className="muted small">Secrets stay on the server: the list above shows only whether they are set.</p>
        <button className="button primary">Add channel</button>
      </form>
      <DeliveryLog version={deliveries} />
    </section>
  );
}

const DELIVERY_STATUSES: DeliveryStatus[] = ["PENDING", "SENDING", "DELIVERED", "FAILED", "HELD", "DROPPED"];

/** Every notification sent, newest first, a page at a time, filtered by status on the server;
 * re-read when `version` changes (a test send). */
function DeliveryLog({ version }: { version: number }) {
  const [status, setStatus] = useState<DeliveryStatus | "">("");
  const { data, error, reload, nodes, hasMore, loadingMore, loadMore } = usePaged(DeliveriesQuery, { status: status || null, after: null }, (r) => r.notificationDeliveries);
  useEffect(() => {
    if (version) reload();
    // eslint-disable-next-line react-hooks/exhaustive-deps -- only a new send re-reads
  }, [version]);
  return (
    <>
      <div className="row spread">
        <h2>Delivery log</h2>
        <select value={status} onChange={(e) => setStatus(e.target.value as DeliveryStatus | "")} aria-label="Delivery status">
          <option value="">Every status</option>
          {DELIVERY_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s.toLowerCase()}
            </option>
          ))}
        </select>
      </div>
      <div className="table-wrap" tabIndex={0}>
        <table data-testid="deliveries">
          <tbody>
            {nodes.map((d) => (
              <tr key={d.id} className={deliveryFailed(d) ? "failed" : ""}>
                <td className="nowrap">{formatTime(d.createdAt)}</td>
                <td>
                  {d.channelName} <span className="muted">{d.event.toLowerCase()}</span>
                </td>
                <td>
                  <span className={deliveryFailed(d) ? "error" : ""} data-testid="delivery-status">
                    {d.status.toLowerCase()}
                  </span>{" "}
                  {d.attempts > 1 && <span className="muted">({d.attempts} attempts)</span>}
                </td>
                <td className={`wrap-anywhere ${deliveryFailed(d) ? "error" : "muted"}`}>{d.lastError ?? EMPTY}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <ErrorNote error={error} />
      {data && nodes.length === 0 && <p className="muted">{status ? "No delivery with that status." : "Nothing sent yet."}</p>}
      <LoadMore shown={nodes.length} hasMore={hasMore} loading={loadingMore} onClick={loadMore} />
    </>
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
