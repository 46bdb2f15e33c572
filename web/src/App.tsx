// The console's shell: routes, navigation, tenant switcher, theme and session handling.
import { lazy, Suspense, useEffect, useState, type FormEvent } from "react";
import { refreshSession, request, requestAs, sessionFromPayload } from "./api/client";
import { useQuery } from "./api/hooks";
import { LoginMutation, LogoutMutation, MeQuery, RevokeSessionMutation, SessionsQuery } from "./api/operations";
import { loadSession, onSessionChange, saveSession, type Session } from "./api/session";
import { ErrorNote } from "./components/bits";
import { Comfort } from "./components/Comfort";
import { Logo } from "./components/Logo";
import { OperatorNavLink } from "./components/OperatorNav";
import { SkipLink, usePageChange } from "./components/PageChrome";
import { Toasts } from "./components/Toasts";
import { searchField } from "./lib/pageTitle";
import { PAGES } from "./lib/pages";
import { isTyping, shortcutFor } from "./lib/shortcuts";
import { applyTheme, storedTheme, type ThemeChoice } from "./lib/theme";
import { AccountPage } from "./pages/Account";
import { AuditPage, MembersPage, NamespacesPage, TokensPage } from "./pages/Admin";
import { AlertsPage } from "./pages/Alerts";
import { ACCOUNT_MAIL_PATHS, AccountMailPage, VerificationBanner } from "./pages/AccountMail";
import { LoginPage, RegisterPage } from "./pages/Auth";
import { DashboardPage } from "./pages/Dashboard";
import { EndpointDetailPage, EndpointsPage } from "./pages/Endpoints";
import { HealthPage } from "./pages/Health";
import { InstallAgentPage } from "./pages/InstallAgent";
import { JobDetailPage } from "./pages/JobDetail";
import { JobFormPage } from "./pages/JobForm";
import { JobsPage } from "./pages/Jobs";
import { RunDetailPage, RunsPage } from "./pages/Runs";
import { SecretsPage } from "./pages/Secrets";
import { Link, matchPath, navigate, useLocation } from "./router";

const PlaygroundPage = lazy(() => import("./pages/Playground"));
const OperatorPage = lazy(() => import("./pages/Operator"));

const NAV = PAGES;

function Page({ path }: { path: string }) {
  let params: Record<string, string> | null;
  if (path === "/") return <DashboardPage />;
  if (path === "/runs") return <RunsPage />;
  if ((params = matchPath("/runs/:id", path))) return <RunDetailPage key={params.id} id={params.id} />;
  if (path === "/health-report") return <HealthPage />;
  if (path === "/alerts") return <AlertsPage />;
  if (path === "/jobs") return <JobsPage />;
  if (path === "/jobs/new") return <JobFormPage />;
  if ((params = matchPath("/jobs/:id/edit", path))) return <JobFormPage key={params.id} id={params.id} />;
  if ((params = matchPath("/jobs/:id", path))) return <JobDetailPage key={params.id} id={params.id} />;
  if (path === "/endpoints") return <EndpointsPage />;
  if ((params = matchPath("/endpoints/:id", path))) return <EndpointDetailPage key={params.id} id={params.id} />;
  if (path === "/namespaces") return <NamespacesPage />;
  if (path === "/secrets") return <SecretsPage />;
  if (path === "/tokens") return <TokensPage />;
  if (path === "/members") return <MembersPage />;
  if (path === "/audit") return <AuditPage />;
  if (path === "/install") return <InstallAgentPage />;
  if (path === "/account") return <AccountPage />;
  if (path === "/operator" || path.startsWith("/operator/"))
    return (
      <Suspense fallback={<p className="muted">Loading…</p>}>
        <OperatorPage path={path} />
      </Suspense>
    );
  if (path === "/playground")
    return (
      <Suspense fallback={<p className="muted">Loading the playground…</p>}>
        <PlaygroundPage />
      </Suspense>
    );
  return (
    <>
      <h1>Not found</h1>
      <p>
        Nothing lives at <code>{path}</code>. <Link href="/">Go to the dashboard</Link>.
      </p>
    </>
  );
}

function ThemeSwitch() {
  const [choice, setChoice] = useState<ThemeChoice>(storedTheme());
  useEffect(() => {
    applyTheme(choice);
    const media = window.matchMedia?.("(prefers-color-scheme: dark)");
    const follow = () => applyTheme(choice);
    media?.addEventListener("change", follow);
    return () => media?.removeEventListener("change", follow);
  }, [choice]);
  return (
    <select value={choice} onChange={(e) => setChoice(e.target.value as ThemeChoice)} aria-label="Theme" className="theme-select">
      <option value="system">System theme</option>
      <option value="light">Light</option>
      <option value="dark">Dark</option>
    </select>
  );
}

function TenantSwitch({ session }: { session: Session }) {
  const me = useQuery(MeQuery, {});
  const [target, setTarget] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const tenants = me.data?.me.tenants ?? [];
  // Switching is a new login with `tenant`: the API issues tokens per tenant.
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const password = String(new FormData(event.currentTarget).get("password"));
    const old = session.accessToken;
    const oldId = (await request(SessionsQuery)).sessions.find((s) => s.current)?.id;
    const result = (await request(LoginMutation, { username: session.username, password, tenant: target })).login;
    if (result.__typename === "AuthPayload") {
      // The new login replaced the refresh cookie, so the old session is ended by id: `logout`
      // would clear the cookie, which now belongs to the new session.
      saveSession(sessionFromPayload(result));
      if (oldId) void requestAs(old, RevokeSessionMutation, { id: oldId }).catch(() => undefined);
      setTarget(null);
      navigate("/");
    } else setError("message" in result ? result.message : "Switching failed");
  };
  return (
    <div className="tenant">
      <select
        aria-label="Tenant"
        value={session.tenantSlug}
        onChange={(e) => {
          setError(null);
          setTarget(e.target.value === session.tenantSlug ? null : e.target.value);
        }}
      >
        {tenants.length === 0 && <option value={session.tenantSlug}>{session.tenantName}</option>}
        {tenants.map((m) => (
          <option key={m.tenant.slug} value={m.tenant.slug}>
            {m.tenant.name} ({m.role.toLowerCase()})
          </option>
        ))}
      </select>
      {target && (
        <form className="tenant-login" onSubmit={submit}>
          <input name="password" type="password" placeholder={`Password for ${target}`} autoFocus required aria-label="Password" />
          <button className="button small primary">Switch</button>
          <ErrorNote error={error} />
        </form>
      )}
    </div>
  );
}

function useShortcuts(): void {
  useEffect(() => {
    let previous: { key: string; at: number } | null = null;
    const onKey = (event: KeyboardEvent) => {
      if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
      const recent = previous && Date.now() - previous.at < 1000 ? previous.key : null;
      const action = shortcutFor(recent, event.key);
      previous = action?.kind === "pending" ? { key: event.key, at: Date.now() } : null;
      if (action?.kind === "navigate") navigate(action.to);
      if (action?.kind === "focus-filter") {
        const field = searchField();
        if (field) {
          event.preventDefault();
          field.focus();
        }
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
}

function Shell({ session, path }: { session: Session; path: string }) {
  const [menu, setMenu] = useState(false);
  useEffect(() => setMenu(false), [path]);
  useShortcuts();
  usePageChange(path);
  const logout = async () => {
    try {
      await request(LogoutMutation);
    } finally {
      saveSession(null);
      navigate("/login", true);
    }
  };
  const section = "/" + (path.split("/")[1] ?? "");
  return (
    <div className="shell">
      <SkipLink />
      <aside className={`sidebar ${menu ? "open" : ""}`}>
        <div className="sidebar-inner">
          <div className="brand">
            <Logo size={28} />
            Crontopus
            <button className="button small menu-toggle" aria-label="Menu" aria-expanded={menu} onClick={() => setMenu(!menu)}>
              ☰
            </button>
          </div>
          <nav aria-label="Main">
            {NAV.map(([href, label]) => (
              <Link key={href} href={href} className={section === href ? "active" : ""} aria-current={section === href ? "page" : undefined}>
                {label}
              </Link>
            ))}
            <OperatorNavLink section={section} />
          </nav>
          <div className="sidebar-foot">
            <TenantSwitch session={session} />
            <ThemeSwitch />
            <p className="muted small" title="g then d, r, h, a, j, n, e, t, u or p goes to a page; / focuses the search; Ctrl-K jumps anywhere">
              Keys: <kbd>?</kbd> all, <kbd>g</kbd> <kbd>j</kbd> jobs, <kbd>/</kbd> search
            </p>
            <div className="row spread">
              <span className="muted small">{session.username}</span>
              <button className="button small" onClick={logout}>
                Log out
              </button>
            </div>
          </div>
        </div>
      </aside>
      <main id="content" tabIndex={-1} className={path === "/playground" ? "main wide" : "main"}>
        <VerificationBanner />
        <Page path={path} />
      </main>
      <Comfort />
      <Toasts />
    </div>
  );
}

// The first refresh after a page load: the refresh cookie brings the session back, if any.
let restoring: Promise<unknown> | null = null;

export function App() {
  const { path, query } = useLocation();
  const [session, setSession] = useState<Session | null>(loadSession());
  const [restored, setRestored] = useState(session !== null);
  useEffect(() => onSessionChange(setSession), []);
  useEffect(() => {
    if (restored) return;
    restoring ??= refreshSession();
    void restoring.finally(() => setRestored(true));
  }, [restored]);
  const open = path === "/login" || path === "/register";
  const mailLink = ACCOUNT_MAIL_PATHS.includes(path);
  useEffect(() => {
    if (!restored || mailLink) return;
    if (!session && !open) navigate(`/login?next=${encodeURIComponent(path + window.location.search)}`, true);
    if (session && open) navigate("/", true);
  }, [session, open, path, restored, mailLink]);
  if (!restored)
    return (
      <p className="muted restoring" data-testid="restoring">
        Loading…
      </p>
    );
  if (mailLink) return <AccountMailPage path={path} />;
  if (path === "/register") return <RegisterPage />;
  if (!session || path === "/login") return <LoginPage next={query.get("next")} ssoError={query.get("sso_error")} />;
  return <Shell session={session} path={path} />;
}
