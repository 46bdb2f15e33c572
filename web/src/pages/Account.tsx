// The user's own account: where they are logged in (ending one session or all of them) and
// the password change, which ends every other session, and the e-mail address change.
import { useState, type FormEvent } from "react";
import { request } from "../api/client";
import { useQuery } from "../api/hooks";
import { ChangePasswordMutation, RevokeSessionMutation, SessionsQuery, SignOutEverywhereMutation } from "../api/operations";
import { saveSession } from "../api/session";
import { ErrorNote, Loading } from "../components/bits";
import { formatAgo, formatTime } from "../lib/format";
import { navigate } from "../router";
import { ChangeEmailForm } from "./AccountMail";
import { authFailure } from "./Auth";

export function AccountPage() {
  const { data, error, loading, reload } = useQuery(SessionsQuery, {});
  const [problem, setProblem] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const revoke = async (id: string) => {
    if (!confirm("End this session? That device has to log in again.")) return;
    const result = (await request(RevokeSessionMutation, { id })).revokeSession;
    setProblem(result.__typename === "EndedSessions" ? null : authFailure(result));
    reload();
  };
  const everywhere = async () => {
    if (!confirm("Sign out everywhere, on this device too?")) return;
    const result = (await request(SignOutEverywhereMutation)).signOutEverywhere;
    if (result.__typename !== "EndedSessions") return setProblem(authFailure(result));
    saveSession(null);
    navigate("/login", true);
  };
  const change = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const target = event.currentTarget;
    const form = new FormData(target);
    if (form.get("newPassword") !== form.get("repeat")) return setProblem("The new passwords differ");
    const result = (
      await request(ChangePasswordMutation, {
        currentPassword: String(form.get("currentPassword")),
        newPassword: String(form.get("newPassword")),
      })
    ).changePassword;
    if (result.__typename === "PasswordChanged") {
      target.reset();
      setProblem(null);
      setNotice(`Password changed; ${result.endedSessions} other session(s) ended.`);
      reload();
    } else setProblem(authFailure(result));
  };
  return (
    <>
      <header className="page-head">
        <h1>Account</h1>
      </header>
      <ErrorNote error={error ?? problem} />
      {notice && (
        <p className="card once" role="status">
          {notice}
        </p>
      )}
      <section className="card">
        <div className="row spread">
          <h2>Sessions</h2>
          <button className="button small danger" onClick={everywhere}>
            Sign out everywhere
          </button>
        </div>
        <Loading when={loading && !data} />
        <div className="table-wrap" tabIndex={0}>
          <table data-testid="sessions">
            <thead>
              <tr>
                <th>Device</th>
                <th>Tenant</th>
                <th>Address</th>
                <th>Logged in</th>
                <th>Last used</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {data?.sessions.map((s) => (
                <tr key={s.id}>
                  <td title={s.userAgent}>{s.userAgent || <span className="muted">unknown</span>}</td>
                  <td>{s.tenant.name}</td>
                  <td>{s.address}</td>
                  <td className="nowrap">{formatTime(s.createdAt)}</td>
                  <td>{formatAgo(s.lastUsedAt)}</td>
                  <td>
                    {s.current ? (
                      <span className="badge badge-muted">this session</span>
                    ) : (
                      <button className="button small danger" onClick={() => revoke(s.id)}>
                        End
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <form className="card stack" onSubmit={change} data-testid="change-password">
        <h2>Change password</h2>
        <p className="muted">Every other session ends; this one stays.</p>
        <label>
          Current password
          <input name="currentPassword" type="password" autoComplete="current-password" required />
        </label>
        <label>
          New password
          <input name="newPassword" type="password" autoComplete="new-password" required minLength={8} />
        </label>
        <label>
          Repeat the new password
          <input name="repeat" type="password" autoComplete="new-password" required minLength={8} />
        </label>
        <button className="button primary">Change password</button>
      </form>
      <ChangeEmailForm />
    </>
  );
}
