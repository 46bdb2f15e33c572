// GraphQL over HTTP with the session's bearer token, refreshed before it expires
// and once more when the server answers UNAUTHENTICATED.
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

const REFRESH = `mutation Refresh($token: String!) {
  refreshToken(token: $token) {
    __typename
    ... on AuthPayload { accessToken accessTokenExpiresAt refreshToken role tenant { slug name } user { username } }
    ... on UserError { message }
  }
}`;

let refreshing: Promise<Session | null> | null = null;

/** Trade the refresh token for new tokens; one refresh at a time. */
export function refreshSession(): Promise<Session | null> {
  refreshing ??= doRefresh().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

async function doRefresh(): Promise<Session | null> {
  const session = loadSession();
  if (!session) return null;
  type Payload = {
    refreshToken: {
      __typename: string;
      accessToken?: string;
      accessTokenExpiresAt?: string;
      refreshToken?: string;
      role?: string;
      tenant?: { slug: string; name: string };
      user?: { username: string };
      message?: string;
    };
  };
  const body = await post<Payload>(REFRESH, { token: session.refreshToken }, null);
  const result = body.data?.refreshToken;
  if (!result || result.__typename !== "AuthPayload") {
    saveSession(null);
    return null;
  }
  const next = sessionFromPayload(result as AuthPayloadLike);
  saveSession(next);
  return next;
}

export type AuthPayloadLike = {
  accessToken: string;
  accessTokenExpiresAt: string;
  refreshToken: string;
  role: string;
  tenant: { slug: string; name: string };
  user: { username: string };
};

/** Build the stored session from a login, register or refresh answer. */
export function sessionFromPayload(payload: AuthPayloadLike): Session {
  return {
    accessToken: payload.accessToken,
    accessTokenExpiresAt: payload.accessTokenExpiresAt,
    refreshToken: payload.refreshToken,
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
