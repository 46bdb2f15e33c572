// The Members page's single sign-on card: whether the tenant is SSO-only, and the switch.
import { useState, type FormEvent } from "react";
import { request } from "../api/client";
import { useQuery } from "../api/hooks";
import { SetTenantSsoOnlyMutation, TenantSsoQuery } from "../api/operations";
import { authFailure } from "./Auth";

/** An owner's or admin's view of SSO-only mode; nothing when the server has no provider. */
export function TenantSsoCard() {
  const { data, reload } = useQuery(TenantSsoQuery, {});
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  if (!data) return null;
  const providers = data.identityProviders;
  const current = data.me.tenant.ssoProvider ?? null;
  if (providers.length === 0 && current === null) return null;
  const labelOf = (name: string) => providers.find((p) => p.name === name)?.label ?? name;
  const set = async (provider: string | null) => {
    setBusy(true);
    try {
      const result = (await request(SetTenantSsoOnlyMutation, { provider })).setTenantSsoOnly;
      if (result.__typename === "Tenant") {
        setNote({
          ok: true,
          text: provider ? `Members now log in with ${labelOf(provider)} only.` : "Members may log in with a password again.",
        });
        reload();
      } else setNote({ ok: false, text: authFailure(result) });
    } catch (e) {
      setNote({ ok: false, text: (e as Error).message });
    } finally {
      setBusy(false);
    }
  };
  const turnOn = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    void set(String(new FormData(event.currentTarget).get("provider")));
  };
  return (
    <section className="card" data-testid="sso-only" aria-labelledby="sso-only-title">
      <h2 id="sso-only-title">Single sign-on</h2>
      {current ? (
        <>
          <p data-testid="sso-only-state">
            <strong>SSO-only:</strong> members log in with {labelOf(current)} alone; password logins into this tenant are refused.
          </p>
          <div className="row">
            <button className="button" disabled={busy} onClick={() => void set(null)}>
              Allow passwords again
            </button>
          </div>
        </>
      ) : (
        <form className="filters" onSubmit={turnOn}>
          <p data-testid="sso-only-state" className="muted">
            Members may log in with a password or any single sign-on provider.
          </p>
          <select name="provider" aria-label="Identity provider" defaultValue={providers[0]?.name}>
            {providers.map((p) => (
              <option key={p.name} value={p.name}>
                {p.label}
              </option>
            ))}
          </select>
          <button className="button primary" disabled={busy}>
            Require single sign-on
          </button>
          <span className="muted small">Turn it on from a session you opened with that provider, so you keep your way in.</span>
        </form>
      )}
      {note && (
        <p className={note.ok ? "small" : "error small"} role={note.ok ? "status" : "alert"}>
          {note.text}
        </p>
      )}
    </section>
  );
}
