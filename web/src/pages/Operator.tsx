// The platform operator's pages: every tenant with its usage (suspend, resume, quotas, export,
// delete), the server's health and the operator audit log. Loaded only when an operator opens
// them, so the console's first bundle stays small; the API refuses everyone else anyway.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { freshSession, request } from "../api/client";
import { useQuery } from "../api/hooks";
import {
  DeleteTenantMutation,
  ExportTenantMutation,
  OperatorAuditQuery,
  OperatorTenantsQuery,
  ResumeTenantMutation,
  SetTenantQuotasMutation,
  SuspendTenantMutation,
  SystemHealthQuery,
} from "../api/operatorOperations";
import { usePaged } from "../api/paging";
import { ErrorNote, LoadMore, Loading } from "../components/bits";
import type { OperatorTenantsQuery as TenantsResult, QuotaName } from "../gql/graphql";
import { EMPTY, formatAgo, formatTime } from "../lib/format";
import { Link } from "../router";
import { authFailure } from "./Auth";

type Tenant = TenantsResult["tenants"]["nodes"][number];
type Outcome = { __typename: string; message?: string; fields?: { path: string[]; message: string }[] };

const TABS: [string, string][] = [
  ["/operator", "Tenants"],
  ["/operator/health", "System health"],
  ["/operator/audit", "Operator audit log"],
];

/** Bytes as the largest unit that keeps a number of at least 1 (1.5 MiB). */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return EMPTY;
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** What went wrong, or null when the mutation answered the type it should. */
function problemOf(result: Outcome, ok: string): string | null {
  return result.__typename === ok ? null : authFailure(result);
}

export default function OperatorPage({ path }: { path: string }) {
  return (
    <>
      <header className="page-head">
        <h1>Operator</h1>
      </header>
      <nav className="row operator-tabs" aria-label="Operator pages">
        {TABS.map(([href, label]) => (
          <Link key={href} href={href} className={path === href ? "button small primary" : "button small"} aria-current={path === href ? "page" : undefined}>
            {label}
          </Link>
        ))}
      </nav>
      {path === "/operator/health" ? <SystemHealthView /> : path === "/operator/audit" ? <OperatorAuditView /> : <TenantsView />}
    </>
  );
}

function TenantsView() {
  const [search, setSearch] = useState("");
  const tenants = usePaged(OperatorTenantsQuery, { search: search || null, after: null }, (r) => r.tenants);
  const [problem, setProblem] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [quotasOf, setQuotasOf] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<Tenant | null>(null);
  const act = async (what: Promise<Outcome>, ok: string, done: string) => {
    setNote(null);
    try {
      const failure = problemOf(await what, ok);
      setProblem(failure);
      if (!failure) setNote(done);
    } catch (e) {
      setProblem((e as Error).message);
    }
    tenants.reload();
  };
  const suspend = (tenant: Tenant) => {
    const reason = prompt(`Suspend ${tenant.slug}? Its people, tokens and agents are refused until you resume it. Reason (shown to them):`, "");
    if (reason === null) return;
    void act(
      request(SuspendTenantMutation, { id: tenant.id, reason: reason || null }).then((r) => r.suspendTenant),
      "OperatorTenant",
      `${tenant.slug} is suspended.`,
    );
  };
  const resume = (tenant: Tenant) =>
    void act(request(ResumeTenantMutation, { id: tenant.id }).then((r) => r.resumeTenant), "OperatorTenant", `${tenant.slug} is resumed.`);
  const exportOf = (tenant: Tenant) =>
    void act(
      request(ExportTenantMutation, { id: tenant.id }).then((r) => r.exportTenant),
      "TenantExport",
      `${tenant.slug} is exported: download it from its row.`,
    );
  return (
    <>
      <form className="card filters" onSubmit={(e) => e.preventDefault()} role="search">
        <input type="search" placeholder="Filter by slug or name" aria-label="Filter tenants" value={search} onChange={(e) => setSearch(e.target.value)} />
      </form>
      <ErrorNote error={tenants.error ?? problem} />
      {note && (
        <p role="status" className="muted">
          {note}
        </p>
      )}
      <section className="card">
        <Loading when={tenants.loading && tenants.nodes.length === 0} />
        <table className="stack-on-phone" data-testid="operator-tenants">
          <thead>
            <tr>
              <th>Tenant</th>
              <th>Status</th>
              <th>Members</th>
              <th>Jobs</th>
              <th>Endpoints</th>
              <th>Runs</th>
              <th>Storage</th>
              <th>Last export</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {tenants.nodes.map((t) => (
              <TenantRow
                key={t.id}
                tenant={t}
                quotasOpen={quotasOf === t.id}
                onSuspend={() => suspend(t)}
                onResume={() => resume(t)}
                onQuotas={() => setQuotasOf(quotasOf === t.id ? null : t.id)}
                onExport={() => exportOf(t)}
                onDelete={() => setDeleting(t)}
                onError={setProblem}
                onSaved={(text) => {
                  setNote(text);
                  setQuotasOf(null);
                  tenants.reload();
                }}
              />
            ))}
            {!tenants.loading && tenants.nodes.length === 0 && (
              <tr>
                <td colSpan={9}>No tenants match.</td>
              </tr>
            )}
          </tbody>
        </table>
        <LoadMore shown={tenants.nodes.length} hasMore={tenants.hasMore} loading={tenants.loadingMore} onClick={() => void tenants.loadMore()} />
      </section>
      {deleting && (
        <DeleteDialog
          tenant={deleting}
          onClose={() => setDeleting(null)}
          onDeleted={(text) => {
            setDeleting(null);
            setNote(text);
            setProblem(null);
            tenants.reload();
          }}
        />
      )}
    </>
  );
}

type RowProps = {
  tenant: Tenant;
  quotasOpen: boolean;
  onSuspend: () => void;
  onResume: () => void;
  onQuotas: () => void;
  onExport: () => void;
  onDelete: () => void;
  onError: (problem: string | null) => void;
  onSaved: (note: string) => void;
};

function TenantRow({ tenant: t, quotasOpen, onSuspend, onResume, onQuotas, onExport, onDelete, onError, onSaved }: RowProps) {
  const u = t.usage;
  return (
    <>
      <tr data-testid={`tenant-${t.slug}`}>
        <td>
          <strong>{t.slug}</strong>
          <div className="muted small">{t.name}</div>
        </td>
        <td>
          {t.suspended ? (
            <span className="badge badge-bad" title={t.suspensionReason ?? undefined}>
              SUSPENDED
            </span>
          ) : (
            <span className="badge badge-ok">ACTIVE</span>
          )}
          {t.suspended && t.suspensionReason && <div className="muted small">{t.suspensionReason}</div>}
        </td>
        <td>{u.members} <span className="cell-label">members</span></td>
        <td>{u.jobs} <span className="cell-label">jobs</span></td>
        <td className="nowrap">
          {u.endpointsOnline} / {u.endpointsTotal} <span className="cell-label">endpoints online</span>
        </td>
        <td>{u.runsStored} <span className="cell-label">runs stored</span></td>
        <td className="nowrap">
          {formatBytes(u.storageBytes)} <span className="cell-label">stored</span>
        </td>
        <td className="nowrap">
          <span className="cell-label">last export </span>
          {t.lastExport ? (
            <>
              <span title={formatTime(t.lastExport.createdAt)}>{formatAgo(t.lastExport.createdAt)}</span>{" "}
              <DownloadButton path={t.lastExport.downloadPath} slug={t.slug} onError={onError} />
            </>
          ) : (
            EMPTY
          )}
        </td>
        <td>
          <div className="row">
            {t.suspended ? (
              <button className="button small" onClick={onResume}>
                Resume
              </button>
            ) : (
              <button className="button small" onClick={onSuspend}>
                Suspend
              </button>
            )}
            <button className="button small" onClick={onQuotas} aria-expanded={quotasOpen}>
              Quotas
            </button>
            <button className="button small" onClick={onExport}>
              Export
            </button>
            <button className="button small danger" onClick={onDelete}>
              Delete
            </button>
          </div>
        </td>
      </tr>
      {quotasOpen && (
        <tr>
          <td colSpan={9}>
            <QuotaEditor tenant={t} onError={onError} onSaved={onSaved} />
          </td>
        </tr>
      )}
    </>
  );
}

function QuotaEditor({ tenant, onError, onSaved }: { tenant: Tenant; onError: (p: string | null) => void; onSaved: (note: string) => void }) {
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    // An empty field goes back to the server's default; only changed quotas are sent.
    const quotas = tenant.quotas
      .map((q) => {
        const text = String(form.get(q.name) ?? "").trim();
        const limit = text === "" ? null : Number(text);
        const before = q.overridden ? q.limit : null;
        return limit === before ? null : { name: q.name as QuotaName, limit };
      })
      .filter((q) => q !== null);
    if (quotas.length === 0) return onSaved("No quota changed.");
    try {
      const result = (await request(SetTenantQuotasMutation, { id: tenant.id, quotas })).setTenantQuotas;
      const problem = problemOf(result, "OperatorTenant");
      onError(problem);
      if (!problem) onSaved(`Quotas of ${tenant.slug} saved.`);
    } catch (e) {
      onError((e as Error).message);
    }
  };
  return (
    <form className="quota-editor" onSubmit={submit} data-testid="quota-editor">
      <p className="muted small">A tenant's own limits; leave a field empty for the server's default (its setting).</p>
      <div className="quota-grid">
        {tenant.quotas.map((q) => (
          <label key={q.name}>
            {q.name.toLowerCase().replace(/_/g, " ")}
            <input
              name={q.name}
              type="number"
              min={0}
              max={1_000_000}
              defaultValue={q.overridden ? q.limit : ""}
              placeholder={`${q.default} (default)`}
              title={q.setting}
            />
          </label>
        ))}
      </div>
      <button className="button small primary">Save quotas</button>
    </form>
  );
}

function DownloadButton({ path, slug, onError }: { path: string; slug: string; onError: (p: string | null) => void }) {
  // The download needs the operator's bearer token, which a plain link cannot carry.
  const download = async () => {
    try {
      const session = await freshSession();
      const response = await fetch(path, { headers: { Authorization: `Bearer ${session?.accessToken ?? ""}` } });
      if (!response.ok) throw new Error(`The download was refused (${response.status}): ${(await response.json()).error ?? ""}`);
      const url = URL.createObjectURL(await response.blob());
      const link = document.createElement("a");
      link.href = url;
      link.download = `crontopus-${slug}-export.tar.gz`;
      link.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      onError(null);
    } catch (e) {
      onError((e as Error).message);
    }
  };
  return (
    <button className="button small" onClick={() => void download()}>
      Download
    </button>
  );
}

function DeleteDialog({ tenant, onClose, onDeleted }: { tenant: Tenant; onClose: () => void; onDeleted: (note: string) => void }) {
  const [typed, setTyped] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const field = useRef<HTMLInputElement>(null);
  useEffect(() => field.current?.focus(), []);
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (typed !== tenant.slug) return;
    try {
      const result = (await request(DeleteTenantMutation, { id: tenant.id })).deleteTenant;
      if (result.__typename === "DeletedTenant") {
        const people = result.deletedUsers.length ? ` People deleted with it: ${result.deletedUsers.join(", ")}.` : "";
        onDeleted(`${result.slug} is deleted; its export stays downloadable.${people}`);
      } else setProblem(authFailure(result));
    } catch (e) {
      setProblem((e as Error).message);
    }
  };
  return (
    <div className="overlay" onMouseDown={(e) => e.target === e.currentTarget && onClose()} onKeyDown={(e) => e.key === "Escape" && onClose()}>
      <form className="overlay-box stack" role="dialog" aria-modal="true" aria-label={`Delete ${tenant.slug}`} onSubmit={submit}>
        <h2>Delete {tenant.slug}?</h2>
        <p>
          Its jobs, runs, endpoints, tokens and secrets go for good. Only a <strong>suspended</strong> tenant whose latest export holds all its data can
          be deleted; the export stays downloadable.
        </p>
        <label>
          <span>
            Type <code>{tenant.slug}</code> to confirm
          </span>
          <input ref={field} value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" aria-label="Slug to confirm" />
        </label>
        <ErrorNote error={problem} />
        <div className="row">
          <button className="button danger" disabled={typed !== tenant.slug}>
            Delete {tenant.slug}
          </button>
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </div>
  );
}

function SystemHealthView() {
  const { data, error, reload, loading } = useQuery(SystemHealthQuery, {});
  const h = data?.systemHealth;
  return (
    <>
      <ErrorNote error={error} />
      <Loading when={loading && !h} />
      {h && (
        <>
          <p className="muted">
            Checked {formatTime(h.checkedAt)}.{" "}
            <button className="button small" onClick={reload}>
              Check again
            </button>
          </p>
          <section className="tiles" data-testid="system-health">
            <div className="tile">
              <span className="tile-value">{h.database.up ? "up" : "DOWN"}</span>
              <span className="tile-label">
                database ({h.database.backend}
                {h.database.latencyMs !== null && h.database.latencyMs !== undefined ? `, ${h.database.latencyMs.toFixed(1)} ms` : ""})
              </span>
              {h.database.error && <span className="error small">{h.database.error}</span>}
            </div>
            <div className="tile">
              <span className="tile-value">{formatBytes(h.disk.freeBytes)}</span>
              <span className="tile-label">free of {formatBytes(h.disk.totalBytes)}</span>
            </div>
            <div className="tile">
              <span className="tile-value">{formatBytes(h.disk.dataBytes)}</span>
              <span className="tile-label">
                data (Git {formatBytes(h.disk.gitBytes)}, exports {formatBytes(h.disk.exportsBytes)})
              </span>
            </div>
            <div className="tile">
              <span className="tile-value">
                {h.ingest.queueDepth} / {h.ingest.queueLimit}
              </span>
              <span className="tile-label">check-ins waiting ({h.ingest.batches} batches)</span>
            </div>
            <div className="tile">
              <span className="tile-value">{h.alerts.pendingNotifications}</span>
              <span className="tile-label">
                notifications due{h.alerts.lagSeconds !== null && h.alerts.lagSeconds !== undefined ? `, alerts ${h.alerts.lagSeconds.toFixed(0)} s behind` : ""}
                {h.alerts.inProcess ? "" : " (worker elsewhere)"}
              </span>
            </div>
            <div className="tile">
              <span className="tile-value">{h.eventBus.connected ? "up" : "DOWN"}</span>
              <span className="tile-label">
                event bus ({h.eventBus.kind}, {h.eventBus.subscribers} subscribers)
              </span>
            </div>
          </section>
          <section className="card">
            <h2>Dependencies</h2>
            <table>
              <thead>
                <tr>
                  <th>Dependency</th>
                  <th>State</th>
                  <th>Since</th>
                  <th>Reason</th>
                </tr>
              </thead>
              <tbody>
                {h.dependencies.map((d) => (
                  <tr key={d.name}>
                    <td>{d.name}</td>
                    <td>
                      <span className={`badge ${d.up ? "badge-ok" : "badge-bad"}`}>{d.up ? "UP" : "DOWN"}</span>
                    </td>
                    <td className="nowrap">{d.since ? formatAgo(d.since) : EMPTY}</td>
                    <td>{d.reason ?? EMPTY}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        </>
      )}
    </>
  );
}

function OperatorAuditView() {
  const events = usePaged(OperatorAuditQuery, { after: null }, (r) => r.operatorAuditEvents);
  return (
    <section className="card">
      <ErrorNote error={events.error} />
      <table className="stack-on-phone" data-testid="operator-audit">
        <thead>
          <tr>
            <th>When</th>
            <th>Operator</th>
            <th>Action</th>
            <th>Tenant</th>
            <th>Details</th>
          </tr>
        </thead>
        <tbody>
          {events.nodes.map((e) => (
            <tr key={e.id}>
              <td className="nowrap" title={formatTime(e.createdAt)}>
                {formatAgo(e.createdAt)}
              </td>
              <td>{e.actor}</td>
              <td>
                <code>{e.action}</code>
              </td>
              <td>{e.tenantSlug ?? EMPTY}</td>
              <td className="wrap-anywhere small">{e.details && Object.keys(e.details as object).length ? JSON.stringify(e.details) : EMPTY}</td>
            </tr>
          ))}
          {!events.loading && events.nodes.length === 0 && (
            <tr>
              <td colSpan={5}>Nothing done by an operator yet.</td>
            </tr>
          )}
        </tbody>
      </table>
      <LoadMore shown={events.nodes.length} hasMore={events.hasMore} loading={events.loadingMore} onClick={() => void events.loadMore()} />
    </section>
  );
}
