// GraphQL over HTTP with the session's bearer token, refreshed (from the HttpOnly refresh
// cookie) before it expires and once more when the server answers UNAUTHENTICATED.
import type { TypedDocumentString } from "../gql/graphql";
import { expiresSoon, loadSession, saveSession, type Session } from "./session";

export class GraphQLRequestError extends Error {
  constructor(
    message: string,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

type GraphQLResponse<T> = {
  data?: T;
  errors?: { message: string; extensions?: { code?: string } }[];
};

// The refresh token is an HttpOnly cookie sent to this path only; the answer carries a new
// access token and rotates the cookie. The browser adds the Origin header the server checks.
const REFRESH = "/auth/refresh";
const REFRESH_LOCK = "crontopus-refresh";

let refreshing: Promise<Session | null> | null = null;

/** Trade the refresh cookie for a new access token; one refresh at a time. */
export function refreshSession(): Promise<Session | null> {
  refreshing ??= lockedRefresh().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

// Tabs share the cookie: two tabs spending the same refresh token at once would look like a
// stolen token and end the session, so they take turns (Web Locks, where the page has them).
async function lockedRefresh(): Promise<Session | null> {
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  return locks ? await locks.request(REFRESH_LOCK, doRefresh) : doRefresh();
}

async function doRefresh(): Promise<Session | null> {
  let response: Response;
  try {
    response = await fetch(REFRESH, { method: "POST", credentials: "same-origin", cache: "no-store" });
  } catch {
    return null; // the server is unreachable: keep what we have, the next request retries
  }
  if (!response.ok) {
    saveSession(null);
    return null;
  }
  const next = sessionFromPayload((await response.json()) as AuthPayloadLike);
  saveSession(next);
  return next;
}

export type AuthPayloadLike = {
  accessToken: string;
  accessTokenExpiresAt: string;
  role: string;
  tenant: { slug: string; name: string };
  user: { username: string };
};

/** Build the in-memory session from a login, register or refresh answer. */
export function sessionFromPayload(payload: AuthPayloadLike): Session {
  return {
    accessToken: payload.accessToken,
    accessTokenExpiresAt: payload.accessTokenExpiresAt,
    role: payload.role,
    tenantSlug: payload.tenant.slug,
    tenantName: payload.tenant.name,
    username: payload.user.username,
  };
}

async function post<T>(query: string, variables: unknown, token: string | null): Promise<GraphQLResponse<T>> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch("/graphql", {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
  });
  if (!response.ok && response.status !== 400) {
    throw new GraphQLRequestError(`the server answered ${response.status} ${response.statusText}`);
  }
  return (await response.json()) as GraphQLResponse<T>;
}

/** Return a session whose access token is still good, refreshing it if needed. */
export async function freshSession(): Promise<Session | null> {
  const session = loadSession();
  if (session && expiresSoon(session)) return refreshSession();
  return session;
}

/** Run a typed operation with a given access token (for ending a session being replaced). */
export async function requestAs<TResult, TVariables>(
  token: string,
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
): Promise<GraphQLResponse<TResult>> {
  return post<TResult>(document.toString(), variables ?? {}, token);
}

/** Run a typed operation; GraphQL errors throw, errors-as-data come back as data. */
export async function request<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  ...[variables]: TVariables extends Record<string, never> ? [] : [TVariables]
): Promise<TResult> {
  const query = document.toString();
  let session = await freshSession();
  let body = await post<TResult>(query, variables ?? {}, session?.accessToken ?? null);
  if (session && body.errors?.some((e) => e.extensions?.code === "UNAUTHENTICATED")) {
    session = await refreshSession();
    if (session) body = await post<TResult>(query, variables ?? {}, session.accessToken);
  }
  if (body.errors?.length) {
    const first = body.errors[0];
    throw new GraphQLRequestError(first.message, first.extensions?.code ?? null);
  }
  return body.data as TResult;
}
