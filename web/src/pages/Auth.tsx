// Log in and register; both end with a stored session and the page the user wanted (or, with
// verification required, a sign-up waits for its mailed link).
import { useEffect, useState, type FormEvent } from "react";
import { request, sessionFromPayload, type AuthPayloadLike } from "../api/client";
import { IdentityProvidersQuery, LoginMutation, RegisterMutation } from "../api/operations";
import { saveSession } from "../api/session";
import { ErrorNote } from "../components/bits";
import { Logo } from "../components/Logo";
import { Link, navigate } from "../router";
import { failureText, type MutationAnswer } from "../lib/mutationErrors";

type AuthAnswer = MutationAnswer;

/** The message to show for a failed login or registration, naming the fields. */
export function authFailure(answer: AuthAnswer): string {
  return failureText(answer, "That did not work");
}

function finish(answer: AuthAnswer & Partial<AuthPayloadLike>, next: string | null): string | null {
  if (answer.__typename !== "AuthPayload") return authFailure(answer);
  saveSession(sessionFromPayload(answer as AuthPayloadLike));
  navigate(next && next.startsWith("/") ? next : "/", true);
  return null;
}

type Provider = { name: string; label: string; startUrl: string };

/** Where a "Log in with …" button goes: the provider's start URL, back to `next` afterwards. */
export function ssoHref(provider: Provider, next: string | null): string {
  return next && next.startsWith("/") ? `${provider.startUrl}?next=${encodeURIComponent(next)}` : provider.startUrl;
}

/** The single sign-on providers the server offers (none when the query fails). */
function useIdentityProviders(): Provider[] {
  const [providers, setProviders] = useState<Provider[]>([]);
  useEffect(() => {
    let live = true;
    request(IdentityProvidersQuery)
      .then((data) => live && setProviders(data.identityProviders))
      .catch(() => undefined); // the password form still works
    return () => {
      live = false;
    };
  }, []);
  return providers;
}

export function LoginPage({ next, ssoError = null }: { next: string | null; ssoError?: string | null }) {
  // A failed single sign-on comes back here with its reason (`/login?sso_error=…`).
  const [error, setError] = useState<string | null>(ssoError);
  const [busy, setBusy] = useState(false);
  const providers = useIdentityProviders();
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    try {
      const data = await request(LoginMutation, {
        username: String(form.get("username")),
        password: String(form.get("password")),
        tenant: String(form.get("tenant") || "") || null,
      });
      setError(finish(data.login, next));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="auth">
      <form className="card auth-card" onSubmit={submit}>
        <Logo size={64} />
        <h1>Log in to Crontopus</h1>
        <label>
          User name
          <input name="username" autoComplete="username" required autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required />
        </label>
        <label>
          Tenant <span className="muted">(optional slug)</span>
          <input name="tenant" autoComplete="off" />
        </label>
        <ErrorNote error={error} />
        <button className="button primary" disabled={busy}>
          Log in
        </button>
        {providers.length > 0 && (
          <div className="sso" role="group" aria-label="Single sign-on">
            <p className="muted sso-or">or</p>
            {providers.map((provider) => (
              <a key={provider.name} className="button" href={ssoHref(provider, next)}>
                Log in with {provider.label}
              </a>
            ))}
          </div>
        )}
        <p className="muted">
          <Link href="/forgot-password">Forgot password?</Link>
        </p>
        <p className="muted">
          No account? <Link href="/register">Register</Link>
        </p>
      </form>
    </div>
  );
}

export function RegisterPage() {
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    try {
      const data = await request(RegisterMutation, {
        username: String(form.get("username")),
        email: String(form.get("email")),
        password: String(form.get("password")),
      });
      // With verification required the account waits for its link: no session yet.
      if (data.register.__typename === "VerificationPending") setPending(data.register.message);
      else setError(finish(data.register, "/"));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="auth">
      <form className="card auth-card" onSubmit={submit}>
        <Logo size={64} />
        <h1>Create a Crontopus account</h1>
        {pending && (
          <p role="status" data-testid="verification-pending">
            {pending}
          </p>
        )}
        <p className="muted">You get a tenant of your own and become its owner.</p>
        <label>
          User name
          <input name="username" autoComplete="username" required autoFocus />
        </label>
        <label>
          Email
          <input name="email" type="email" autoComplete="email" required />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="new-password" required minLength={8} />
        </label>
        <ErrorNote error={error} />
        <button className="button primary" disabled={busy}>
          Register
        </button>
        <p className="muted">
          Have an account? <Link href="/login">Log in</Link>
        </p>
      </form>
    </div>
  );
}
