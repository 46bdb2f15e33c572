// The pages that links in account mail open (reset a password, verify an address, accept an
// invitation), the forgotten-password request, and the banner of an unverified address.
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";
import {
  AcceptInvitationMutation,
  ChangeEmailMutation,
  InviteMemberMutation,
  RequestPasswordResetMutation,
  ResendVerificationEmailMutation,
  ResetPasswordMutation,
  VerificationStateQuery,
  VerifyEmailMutation,
} from "../api/accountMailOperations";
import { request, sessionFromPayload, type AuthPayloadLike } from "../api/client";
import { useQuery } from "../api/hooks";
import { saveSession } from "../api/session";
import { ErrorNote } from "../components/bits";
import type { Role } from "../gql/graphql";
import { Logo } from "../components/Logo";
import { useStoredTheme } from "../lib/theme";
import { Link, navigate } from "../router";
import { authFailure } from "./Auth";

/** The paths mail links open; they work with or without a session. */
export const ACCOUNT_MAIL_PATHS = ["/forgot-password", "/reset-password", "/verify-email", "/accept-invitation"];

export function AccountMailPage({ path }: { path: string }) {
  if (path === "/forgot-password") return <ForgotPasswordPage />;
  if (path === "/reset-password") return <ResetPasswordPage />;
  if (path === "/verify-email") return <VerifyEmailPage />;
  return <AcceptInvitationPage />;
}

/** The link's token, from the fragment (`#token=…`), which browsers never send to the server. */
export function tokenFromHash(hash: string): string {
  return new URLSearchParams(hash.replace(/^#/, "")).get("token") ?? "";
}

/** Read the token once, then drop it from the address bar and the history entry. */
function useLinkToken(): string {
  const [token] = useState(() => tokenFromHash(window.location.hash));
  useEffect(() => {
    if (window.location.hash) history.replaceState(null, "", window.location.pathname);
  }, []);
  return token;
}

function Card({ title, children, onSubmit }: { title: string; children: ReactNode; onSubmit?: (event: FormEvent<HTMLFormElement>) => void }) {
  useStoredTheme();
  return (
    <div className="auth">
      <form className="card auth-card" onSubmit={onSubmit ?? ((event) => event.preventDefault())}>
        <Logo size={64} />
        <h1>{title}</h1>
        {children}
      </form>
    </div>
  );
}

function NoToken() {
  return (
    <p className="error" role="alert">
      This page needs the link from the mail, whole: open it from the mail, or copy all of it into the address bar.
    </p>
  );
}

export function ForgotPasswordPage() {
  const [error, setError] = useState<string | null>(null);
  const [answer, setAnswer] = useState<{ message: string; mailEnabled: boolean } | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const email = String(new FormData(event.currentTarget).get("email"));
      const result = (await request(RequestPasswordResetMutation, { email })).requestPasswordReset;
      if (result.__typename === "PasswordResetRequested") setAnswer(result);
      else setError(authFailure(result));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title="Forgot your password?" onSubmit={submit}>
      {answer ? (
        <p className={answer.mailEnabled ? "" : "error"} role="status" data-testid="reset-requested">
          {answer.message}
        </p>
      ) : (
        <>
          <p className="muted">Give the e-mail address of your account: a link to choose a new password goes there.</p>
          <label>
            Email
            <input name="email" type="email" autoComplete="email" required autoFocus />
          </label>
          <ErrorNote error={error} />
          <button className="button primary" disabled={busy}>
            Send the link
          </button>
        </>
      )}
      <p className="muted">
        <Link href="/login">Back to log in</Link>
      </p>
    </Card>
  );
}

export function ResetPasswordPage() {
  const token = useLinkToken();
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const newPassword = String(form.get("password"));
    if (newPassword !== String(form.get("repeat"))) {
      setError("The two passwords differ: type the same one twice.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const result = (await request(ResetPasswordMutation, { token, newPassword })).resetPassword;
      if (result.__typename === "PasswordReset") setDone(result.user.username);
      else setError(authFailure(result));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  if (done)
    return (
      <Card title="Your password is changed">
        <p role="status">
          Every session of <strong>{done}</strong> was ended. Log in with the new password.
        </p>
        <button type="button" className="button primary" onClick={() => navigate("/login", true)}>
          Log in
        </button>
      </Card>
    );
  return (
    <Card title="Choose a new password" onSubmit={submit}>
      {!token && <NoToken />}
      <label>
        New password
        <input name="password" type="password" autoComplete="new-password" required minLength={8} autoFocus />
      </label>
      <label>
        Repeat it
        <input name="repeat" type="password" autoComplete="new-password" required minLength={8} />
      </label>
      <ErrorNote error={error} />
      <button className="button primary" disabled={busy || !token}>
        Set the password
      </button>
      <p className="muted">
        Link expired? <Link href="/forgot-password">Ask for a new one</Link>
      </p>
    </Card>
  );
}

export function VerifyEmailPage() {
  const token = useLinkToken();
  const [state, setState] = useState<{ ok: boolean; text: string } | null>(null);
  const sent = useRef(false);
  useEffect(() => {
    // Once: the link is single-use, and a second call would report it as used.
    if (!token || sent.current) return;
    sent.current = true;
    request(VerifyEmailMutation, { token }).then(
      ({ verifyEmail: result }) =>
        setState(
          result.__typename === "EmailVerified"
            ? { ok: true, text: `${result.user.email} is verified. Thank you.` }
            : { ok: false, text: authFailure(result) },
        ),
      (e: Error) => setState({ ok: false, text: e.message }),
    );
  }, [token]);
  return (
    <Card title="Verify your e-mail address">
      {!token && <NoToken />}
      {token && !state && <p className="muted">Checking the link…</p>}
      {state && (
        <p className={state.ok ? "" : "error"} role={state.ok ? "status" : "alert"} data-testid="verify-result">
          {state.text}
        </p>
      )}
      <p className="muted">
        <Link href="/">Go to the console</Link>
      </p>
    </Card>
  );
}

export function AcceptInvitationPage() {
  const token = useLinkToken();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      const result = (
        await request(AcceptInvitationMutation, {
          token,
          username: String(form.get("username")),
          password: String(form.get("password")),
        })
      ).acceptInvitation;
      if (result.__typename === "AuthPayload") {
        saveSession(sessionFromPayload(result as AuthPayloadLike));
        navigate("/", true);
      } else setError(authFailure(result));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title="Join Crontopus" onSubmit={submit}>
      {!token && <NoToken />}
      <p className="muted">You were invited to a tenant. Choose a user name and a password; your account uses the address the invitation went to.</p>
      <label>
        User name
        <input name="username" autoComplete="username" required autoFocus />
      </label>
      <label>
        Password
        <input name="password" type="password" autoComplete="new-password" required minLength={8} />
      </label>
      <ErrorNote error={error} />
      <button className="button primary" disabled={busy || !token}>
        Accept the invitation
      </button>
    </Card>
  );
}

/** Shown in the console while the address waits for its verification link to be followed. */
export function VerificationBanner() {
  const state = useQuery(VerificationStateQuery, {});
  const [note, setNote] = useState<string | null>(null);
  const me = state.data?.me;
  if (!me?.emailVerificationPending) return null;
  const resend = async () => {
    try {
      const result = (await request(ResendVerificationEmailMutation)).resendVerificationEmail;
      setNote(result.__typename === "VerificationSent" ? `A new link is on its way to ${result.email}.` : authFailure(result));
    } catch (e) {
      setNote((e as Error).message);
    }
  };
  return (
    <div className="banner" role="status" data-testid="verify-banner">
      <span>
        Confirm your e-mail address: follow the link we sent to <strong>{me.user.email}</strong>.
      </span>
      <button type="button" className="button small" onClick={resend}>
        Send a new link
      </button>
      {note && <span className="muted small">{note}</span>}
    </div>
  );
}

/** The Account page's form to change the e-mail address (the old one gets a notice). */
export function ChangeEmailForm() {
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    try {
      const result = (
        await request(ChangeEmailMutation, { currentPassword: String(form.get("currentPassword")), newEmail: String(form.get("newEmail")) })
      ).changeEmail;
      if (result.__typename === "EmailChanged") {
        formElement.reset();
        const link = result.verificationSent ? " A link to confirm it is on its way there." : "";
        setNote({ ok: true, text: `Your address is now ${result.user.email}.${link}` });
      } else setNote({ ok: false, text: authFailure(result) });
    } catch (e) {
      setNote({ ok: false, text: (e as Error).message });
    }
  };
  return (
    <form className="card stack" onSubmit={submit} data-testid="change-email">
      <h2>Change e-mail address</h2>
      <p className="muted">The old address is told of the change; password resets go to the new one.</p>
      <label>
        New address
        <input name="newEmail" type="email" autoComplete="email" required />
      </label>
      <label>
        Current password
        <input name="currentPassword" type="password" autoComplete="current-password" required />
      </label>
      {note && (
        <p className={note.ok ? "" : "error"} role={note.ok ? "status" : "alert"}>
          {note.text}
        </p>
      )}
      <button className="button primary">Change address</button>
    </form>
  );
}

/** The Members page's invitation by address: a member at once, or a mailed invitation. */
export function InviteByEmailForm({ roles, onDone, onInvited }: { roles: readonly Role[]; onDone: () => void; onInvited?: () => void }) {
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    try {
      const result = (await request(InviteMemberMutation, { email: String(form.get("email")), role: form.get("role") as Role })).inviteMember;
      if (result.__typename === "Invitation") {
        formElement.reset();
        setNote({ ok: true, text: `Invitation sent to ${result.email}; the link works once, for 7 days.` });
        onInvited?.();
      } else if (result.__typename === "Membership") {
        formElement.reset();
        setNote({ ok: true, text: `${result.user.username} already had an account and is now a member.` });
        onDone();
      } else setNote({ ok: false, text: authFailure(result) });
    } catch (e) {
      setNote({ ok: false, text: (e as Error).message });
    }
  };
  return (
    <form className="card filters" onSubmit={submit} data-testid="invite-member">
      <input name="email" type="email" placeholder="Invite by e-mail address" required aria-label="E-mail address" />
      <select name="role" defaultValue="MEMBER" aria-label="Role of the invited">
        {roles.map((r) => (
          <option key={r}>{r}</option>
        ))}
      </select>
      <button className="button">Invite</button>
      {note ? (
        <span className={note.ok ? "small" : "error small"} role={note.ok ? "status" : "alert"}>
          {note.text}
        </span>
      ) : (
        <span className="muted small">Someone without an account gets a mailed invitation.</span>
      )}
    </form>
  );
}
