// The logged-in session, in this page's memory only: nothing is kept in localStorage. A reload
// gets a new access token from the refresh cookie (`POST /auth/refresh`), which no script can read.
export type Session = {
  accessToken: string;
  accessTokenExpiresAt: string;
  username: string;
  tenantSlug: string;
  tenantName: string;
  role: string;
};

type Listener = (session: Session | null) => void;
const listeners = new Set<Listener>();
let current: Session | null = null;

export function loadSession(): Session | null {
  return current;
}

export function saveSession(session: Session | null): void {
  current = session;
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
