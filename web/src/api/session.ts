// The logged-in session: tokens kept in localStorage so a reload keeps the page.
export type Session = {
  accessToken: string;
  accessTokenExpiresAt: string;
  refreshToken: string;
  username: string;
  tenantSlug: string;
  tenantName: string;
  role: string;
};

const KEY = "crontopus.session";
type Listener = (session: Session | null) => void;
const listeners = new Set<Listener>();

export function loadSession(): Session | null {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session) localStorage.setItem(KEY, JSON.stringify(session));
  else localStorage.removeItem(KEY);
  for (const listener of listeners) listener(session);
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Whether the access token expires within `marginMs` of `now`. */
export function expiresSoon(session: Session, now: number = Date.now(), marginMs = 30_000): boolean {
  const expires = Date.parse(session.accessTokenExpiresAt);
  return Number.isNaN(expires) || expires - now < marginMs;
}
