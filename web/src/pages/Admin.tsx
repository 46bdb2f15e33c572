// Tenant administration: namespaces, API tokens (shown once), members and roles, audit log.
import { useMemo, useState, type FormEvent } from "react";
import { request } from "../api/client";
import { usePaged } from "../api/paging";
import {
  AddMemberMutation,
  ApiTokensPageQuery,
  AuditQuery,
  CreateApiTokenMutation,
  CreateNamespaceMutation,
  DeleteNamespaceMutation,
  MembersPageQuery,
  NamespacesPageQuery,
  RemoveMemberMutation,
  RevokeApiTokenMutation,
} from "../api/operations";
import { loadSession } from "../api/session";
import { CopyButton, ErrorNote, LoadMore, Loading } from "../components/bits";
import { SearchForm, useUrlSearch } from "../components/SearchForm";
import type { Role, TokenScope } from "../gql/graphql";
import { EMPTY, formatAgo, formatTime } from "../lib/format";
import { Link, navigate, useLocation } from "../router";
import { InviteByEmailForm } from "./AccountMail";
import { PendingInvitations } from "./Invitations";
import { TenantSsoCard } from "./TenantSso";

type Outcome = { __typename: string; message?: string };
const failure = (result: Outcome, what: string): string | null =>
  "message" in result && result.message ? result.message : result.__typename.endsWith("Error") ? `${what} failed` : null;

export function NamespacesPage() {
  const search = useUrlSearch().get("q") || null;
  const { data, error, loading, reload, nodes, hasMore, loadingMore, loadMore } = usePaged(NamespacesPageQuery, { search, after: null }, (r) => r.namespacesPage);
  const [problem, setProblem] = useState<string | null>(null);
  const create = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const target = event.currentTarget;
    const name = String(new FormData(target).get("name"));
    const result = (await request(CreateNamespaceMutation, { name })).createNamespace;
    setProblem(failure(result, "Creating the namespace"));
    if (result.__typename === "Namespace") target.reset();
    reload();
  };
  const remove = async (name: string) => {
    if (!confirm(`Delete namespace ${name}?`)) return;
    setProblem(failure((await request(DeleteNamespaceMutation, { name })).deleteNamespace, "Deleting the namespace"));
    reload();
  };
  return (
    <>
      <header className="page-head">
        <h1>Namespaces</h1>
      </header>
      <ErrorNote error={error ?? problem} />
      <form className="filters" onSubmit={create}>
        <input name="name" placeholder="new-namespace" required pattern="[a-z0-9]([\-a-z0-9]*[a-z0-9])?" aria-label="Namespace name" />
        <button className="button primary">Create</button>
      </form>
      <SearchForm path="/namespaces" placeholder="Search namespaces" />
      <Loading when={loading && !data} />
      <section className="card">
        <table data-testid="namespaces-table">
          <thead>
            <tr>
              <th>Name</th>
              <th className="num">Jobs</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {nodes.map((ns) => (
              <tr key={ns.name}>
                <td>
                  <Link href={`/jobs?namespace=${ns.name}`}>{ns.name}</Link> {ns.isSystem && <span className="badge badge-muted">system</span>}
                </td>
                <td className="num">{ns.jobCount}</td>
                <td>
                  {!ns.isSystem && ns.jobCount === 0 && (
                    <button className="button small danger" onClick={() => remove(ns.name)}>
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {data && nodes.length === 0 && <p className="muted">No namespace matches.</p>}
        <LoadMore shown={nodes.length} hasMore={hasMore} loading={loadingMore} onClick={loadMore} />
      </section>
    </>
  );
}

const SCOPES: TokenScope[] = ["READ", "WRITE", "CHECKIN"];

/** What each scope allows, on top of the role of the user who owns the token. */
export const SCOPE_MEANING: Record<TokenScope, string> = {
  READ: "read jobs, runs, endpoints and the audit log (the CLI's list and show commands)",
  WRITE: "everything READ does, plus create, edit and delete jobs and the rest your role allows",
  CHECKIN: "report runs over the check-in URL and nothing else: the one to give a script or cron line",
};

/** A check-in line for a script: report exit code 0 of a job with a token that may check in. */
export function checkInLine(origin: string, plaintext: string): string {
  return `curl -fsS -X POST -H "Authorization: Bearer ${plaintext}" "${origin}/checkin/<job-id>/0"`;
}

export function TokensPage() {
  const search = useUrlSearch().get("q") || null;
  const { data, error, loading, reload, nodes, hasMore, loadingMore, loadMore } = usePaged(ApiTokensPageQuery, { search, after: null }, (r) => r.apiTokensPage);
  const [created, setCreated] = useState<{ name: string; plaintext: string; scopes: TokenScope[] } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [scopes, setScopes] = useState<TokenScope[]>(["READ"]);
  const create = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const target = event.currentTarget;
    const form = new FormData(target);
    const days = String(form.get("days") || "");
    const result = (
      await request(CreateApiTokenMutation, { name: String(form.get("name")), scopes, expiresInDays: days ? Number(days) : null })
    ).createApiToken;
    if (result.__typename === "CreatedApiToken") {
      setCreated({ name: result.token.name, plaintext: result.plaintext, scopes });
      setProblem(null);
      setScopes(["READ"]);
      target.reset();
    } else setProblem(failure(result, "Creating the token"));
    reload();
  };
  const revoke = async (id: string, name: string) => {
    if (!confirm(`Revoke token ${name}? Anything using it stops working at once.`)) return;
    setProblem(failure((await request(RevokeApiTokenMutation, { id })).revokeApiToken, "Revoking"));
    reload();
  };
  return (
    <>
      <header className="page-head">
        <h1>API tokens</h1>
      </header>
      <ErrorNote error={error ?? problem} />
      {created && (
        <section className="card once" role="alert">
          <h2>Token {created.name} created</h2>
          <p>Copy it now: it is shown this once only.</p>
          <div className="row">
            <code className="secret" data-testid="token-plaintext">
              {created.plaintext}
            </code>
            <CopyButton text={created.plaintext} />
            <button className="button small" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
          {created.scopes.includes("CHECKIN") && (
            <div data-testid="checkin-line">
              <p>
                A script reports a run with this line: put the job&apos;s id (on its page, with the whole snippet) in place
                of <code>&lt;job-id&gt;</code> and its exit code in place of <code>0</code>.
              </p>
              <div className="row nowrap">
                <pre className="code wrap">{checkInLine(window.location.origin, created.plaintext)}</pre>
                <CopyButton text={checkInLine(window.location.origin, created.plaintext)} />
              </div>
            </div>
          )}
        </section>
      )}
      <form className="card token-form" onSubmit={create}>
        <h2>New token</h2>
        <div className="filters">
          <input name="name" placeholder="Token name" required aria-label="Token name" />
          <input name="days" placeholder="Expires in days" inputMode="numeric" aria-label="Expires in days" />
          <button type="button" className="button small" onClick={() => setScopes(["CHECKIN"])} data-testid="for-scripts">
            For a script (check-ins only)
          </button>
        </div>
        <fieldset>
          <legend>Scopes</legend>
          {SCOPES.map((scope) => (
            <label key={scope} className="check">
              <input
                type="checkbox"
                name={scope}
                checked={scopes.includes(scope)}
                onChange={(e) => setScopes((now) => (e.target.checked ? [...now, scope] : now.filter((s) => s !== scope)))}
              />{" "}
              <strong>{scope}</strong> <span className="muted">— {SCOPE_MEANING[scope]}</span>
            </label>
          ))}
          <p className="muted small">A token never does more than your role allows, whatever its scopes.</p>
        </fieldset>
        <button className="button primary">Create token</button>
      </form>
      <SearchForm path="/tokens" placeholder="Search token names" />
      <Loading when={loading && !data} />
      <section className="card">
        <div className="table-wrap" tabIndex={0}>
          <table data-testid="tokens-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Scopes</th>
                <th>
                  <abbr title="The last 4 characters of the token, to tell it apart">Last 4</abbr>
                </th>
                <th>Created</th>
                <th>Last used</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {nodes.map((t) => (
                <tr key={t.id} className={t.revokedAt ? "revoked" : ""}>
                  <td>{t.name}</td>
                  <td>{t.scopes.join(", ")}</td>
                  <td>
                    <code aria-label={`last 4 characters ${t.hint}`}>…{t.hint}</code>
                  </td>
                  <td className="nowrap">{formatTime(t.createdAt)}</td>
                  <td className="nowrap">{t.lastUsedAt ? formatAgo(t.lastUsedAt) : EMPTY}</td>
                  <td>
                    {t.revokedAt ? (
                      <span className="muted">revoked</span>
                    ) : (
                      <button className="button small danger" onClick={() => revoke(t.id, t.name)}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {data && nodes.length === 0 && <p className="muted">{search ? "No token matches." : "No tokens yet."}</p>}
        <LoadMore shown={nodes.length} hasMore={hasMore} loading={loadingMore} onClick={loadMore} />
      </section>
    </>
  );
}

const ROLES: Role[] = ["OWNER", "ADMIN", "MEMBER", "VIEWER"];

export function MembersPage() {
  const params = useUrlSearch();
  const wantedRole = params.get("role");
  const variables = { search: params.get("q") || null, role: ROLES.includes(wantedRole as Role) ? (wantedRole as Role) : null, after: null };
  const { data, error, loading, reload, nodes, hasMore, loadingMore, loadMore } = usePaged(MembersPageQuery, variables, (r) => r.membersPage);
  const [problem, setProblem] = useState<string | null>(null);
  const role = loadSession()?.role;
  const canManage = role === "OWNER" || role === "ADMIN";
  const [invited, setInvited] = useState(0);
  const add = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const result = (await request(AddMemberMutation, { username: String(form.get("username")), role: form.get("role") as Role })).addMember;
    setProblem(failure(result, "Adding the member"));
    reload();
  };
  const remove = async (userId: string, username: string) => {
    if (!confirm(`Remove ${username} from this tenant?`)) return;
    setProblem(failure((await request(RemoveMemberMutation, { userId })).removeMember, "Removing the member"));
    reload();
  };
  return (
    <>
      <header className="page-head">
        <h1>Members</h1>
      </header>
      <ErrorNote error={error ?? problem} />
      {canManage && (
        <form className="card filters" onSubmit={add}>
          <input name="username" placeholder="Registered user name" required aria-label="User name" />
          <select name="role" defaultValue="MEMBER" aria-label="Role">
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
          <button className="button primary">Add member</button>
          <span className="muted small">Adding an existing member again changes their role.</span>
        </form>
      )}
      {canManage && <InviteByEmailForm roles={ROLES} onDone={reload} onInvited={() => setInvited((n) => n + 1)} />}
      {canManage && <PendingInvitations version={invited} />}
      {canManage && <TenantSsoCard />}
      <SearchForm path="/members" placeholder="Search user names and e-mail">
        <select name="role" defaultValue={variables.role ?? ""} aria-label="Only the role">
          <option value="">Every role</option>
          {ROLES.map((r) => (
            <option key={r}>{r}</option>
          ))}
        </select>
      </SearchForm>
      <Loading when={loading && !data} />
      <section className="card">
        <table className="stack-on-phone" data-testid="members">
          <thead>
            <tr>
              <th>User</th>
              <th>Email</th>
              <th>Role</th>
              <th>Since</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {nodes.map((m) => (
              <tr key={m.user.id}>
                <td>{m.user.username}</td>
                <td className="wrap-anywhere">{m.user.email}</td>
                <td>{m.role}</td>
                <td className="nowrap">{formatTime(m.createdAt)}</td>
                <td>
                  {canManage && (
                    <button className="button small danger" onClick={() => remove(m.user.id, m.user.username)}>
                      Remove
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {data && nodes.length === 0 && <p className="muted">No member matches.</p>}
        <LoadMore shown={nodes.length} hasMore={hasMore} loading={loadingMore} onClick={loadMore} />
      </section>
    </>
  );
}

export function AuditPage() {
  const { query } = useLocation();
  const search = query.toString();
  const filter = useMemo(() => {
    const q = new URLSearchParams(search);
    return { action: q.get("action") || null, actor: q.get("actor") || null, search: q.get("q") || null };
  }, [search]);
  const { data, error, loading, nodes: rows, hasMore, loadingMore, loadMore } = usePaged(AuditQuery, { filter, after: null }, (r) => r.auditEvents);
  const apply = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(event.currentTarget)) if (value) params.set(key, String(value));
    navigate(`/audit${params.size ? `?${params}` : ""}`);
  };
  return (
    <>
      <header className="page-head">
        <h1>Audit log</h1>
      </header>
      <form className="filters" onSubmit={apply} key={search}>
        <input name="action" placeholder='Action, or a prefix such as "member."' defaultValue={filter.action ?? ""} aria-label="Action" />
        <input name="actor" placeholder="Actor" defaultValue={filter.actor ?? ""} aria-label="Actor" />
        <input name="q" placeholder="Search targets" defaultValue={filter.search ?? ""} aria-label="Search" />
        <button className="button">Filter</button>
      </form>
      <ErrorNote error={error} />
      <Loading when={loading && !data} />
      <section className="card">
        <div className="table-wrap" tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th>When</th>
                <th>Actor</th>
                <th>Action</th>
                <th>Target</th>
                <th>Details</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((e) => (
                <tr key={e.id}>
                  <td className="nowrap">{formatTime(e.createdAt)}</td>
                  <td title={e.actor === e.actorName ? undefined : e.actor} data-testid="audit-actor">
                    {e.actorName}
                  </td>
                  <td>
                    <code>{e.action}</code>
                  </td>
                  <td className="wrap-anywhere">{e.target}</td>
                  <td className="truncate">
                    <code>{JSON.stringify(e.details)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <LoadMore shown={rows.length} hasMore={hasMore} loading={loadingMore} onClick={loadMore} />
      </section>
    </>
  );
}
