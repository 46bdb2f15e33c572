// Subscriptions over graphql-transport-ws with the session's token in connectionParams;
// reconnects forever and reports its state for the live indicator.
import { createClient, type Client } from "graphql-ws";
import type { TypedDocumentString } from "../gql/graphql";
import { freshSession, refreshSession } from "./client";
import { loadSession, onSessionChange } from "./session";

export type LiveState = "connecting" | "live" | "reconnecting" | "offline";
type StateListener = (state: LiveState) => void;

let client: Client | null = null;
let state: LiveState = "offline";
let everConnected = false;
// Set when the server refused the socket's token (4401/4403): the next attempt refreshes first.
// 4401 ends graphql-ws's subscriptions (it never retries it): `subscribe` starts them again.
let tokenRefused = false;
const stateListeners = new Set<StateListener>();

function setState(next: LiveState): void {
  state = next;
  for (const listener of stateListeners) listener(next);
}

export function liveState(): LiveState {
  return state;
}

export function onLiveState(listener: StateListener): () => void {
  stateListeners.add(listener);
  return () => stateListeners.delete(listener);
}

/** The WebSocket URL of the GraphQL endpoint on the page's own origin. */
export function graphqlWsUrl(location: { protocol: string; host: string } = window.location): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/graphql`;
}

function liveClient(): Client {
  if (client) return client;
  const session = loadSession();
  identity = session ? `${session.username}@${session.tenantSlug}` : null;
  everConnected = false;
  client = createClient({
    url: graphqlWsUrl(),
    lazy: true,
    keepAlive: 15_000,
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true,
    retryWait: async (retries) => {
      await new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** retries, 10_000)));
    },
    connectionParams: async () => {
      const session = tokenRefused ? await refreshSession() : await freshSession();
      tokenRefused = false;
      return session ? { authorization: `Bearer ${session.accessToken}` } : {};
    },
    on: {
      connecting: () => setState(everConnected ? "reconnecting" : "connecting"),
      connected: () => {
        everConnected = true;
        setState("live");
      },
      closed: (event) => {
        const code = (event as { code?: number } | undefined)?.code;
        if (code === 4401 || code === 4403) tokenRefused = true;
        setState(everConnected ? "reconnecting" : "connecting");
      },
    },
  });
  return client;
}

// A new session (login, tenant switch, logout) needs a new connection with its token.
// A refreshed token alone keeps the connection: it was authenticated when it opened.
let identity: string | null = null;
onSessionChange((session) => {
  const next = session ? `${session.username}@${session.tenantSlug}` : null;
  if (next === identity) return;
  identity = next;
  const old = client;
  client = null;
  if (old) void old.dispose();
  setState("offline");
});

// The close codes (and the `closeCode` of the errors operations end with) that mean "the
// credential no longer stands": 4401 expired or revoked, 4403 the role or scopes changed.
const CREDENTIAL_LAPSES = new Set([4401, 4403]);
const MAX_QUICK_LAPSES = 5;

/** Whether a subscription ended because the server stopped accepting the socket's credential. */
export function isCredentialLapse(error: unknown): boolean {
  if (Array.isArray(error)) {
    return error.some((item) => CREDENTIAL_LAPSES.has((item as { extensions?: { closeCode?: number } })?.extensions?.closeCode ?? 0));
  }
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" && CREDENTIAL_LAPSES.has(code);
}

/** Subscribe to a typed operation; returns the function that stops it.
 *
 * When the server ends it because the token expired, was revoked or now means another role,
 * the subscription starts again on a new socket with a refreshed token, unnoticed by the page. */
export function subscribe<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  onData: (data: TResult) => void,
  onError: (error: unknown) => void = (error) => console.error("subscription failed", error),
): () => void {
  let stopped = false;
  let stop: () => void = () => undefined;
  let lapses = 0;
  let lastLapse = 0;
  const start = () => {
    stop = liveClient().subscribe<TResult>(
      { query: document.toString(), variables: variables as Record<string, unknown> },
      {
        next: (value) => {
          if (value.data) onData(value.data as TResult);
        },
        error: (error) => {
          if (stopped) return;
          if (isCredentialLapse(error)) {
            // A token expiring every quarter hour is normal; the same lapse in a loop is not.
            lapses = Date.now() - lastLapse > 60_000 ? 1 : lapses + 1;
            lastLapse = Date.now();
            if (lapses <= MAX_QUICK_LAPSES) {
              tokenRefused = true;
              setState("reconnecting");
              setTimeout(() => {
                if (!stopped) start();
              }, Math.min(250 * 2 ** lapses, 10_000));
              return;
            }
          }
          onError(error);
        },
        complete: () => undefined,
      },
    );
  };
  start();
  return () => {
    stopped = true;
    stop();
  };
}
