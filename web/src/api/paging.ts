// "Load more" over a keyset connection: the first page through useQuery, later pages appended
// until the variables change or the first page is read again (a live update starts over).
import { useEffect, useState } from "react";
import type { TypedDocumentString } from "../gql/graphql";
import { request } from "./client";
import { useQuery, type QueryState } from "./hooks";

export type Page<N> = { nodes: N[]; pageInfo: { endCursor?: string | null; hasNextPage: boolean } };

export type Paged<TResult, N> = QueryState<TResult> & {
  nodes: N[];
  hasMore: boolean;
  loadingMore: boolean;
  loadMore: () => Promise<void>;
};

export function usePaged<TResult, TVariables extends { after?: string | null }, N>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  page: (result: TResult) => Page<N>,
): Paged<TResult, N> {
  const first = useQuery(document, variables);
  const [more, setMore] = useState<{ nodes: N[]; end: string | null; hasMore: boolean } | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => setMore(null), [first.data]);
  const head = first.data ? page(first.data) : null;
  const end = more ? more.end : (head?.pageInfo.endCursor ?? null);
  const hasMore = more ? more.hasMore : (head?.pageInfo.hasNextPage ?? false);
  const loadMore = async () => {
    if (!hasMore || loadingMore) return;
    setLoadingMore(true);
    try {
      const next = page(await (request as (d: unknown, v: unknown) => Promise<TResult>)(document, { ...variables, after: end }));
      setMore({ nodes: [...(more?.nodes ?? []), ...next.nodes], end: next.pageInfo.endCursor ?? null, hasMore: next.pageInfo.hasNextPage });
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setLoadingMore(false);
    }
  };
  return { ...first, error: first.error ?? error, nodes: [...(head?.nodes ?? []), ...(more?.nodes ?? [])], hasMore, loadingMore, loadMore };
}
