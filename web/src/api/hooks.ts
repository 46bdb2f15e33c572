// React glue: run a typed query when its variables change; follow the live connection's state.
import { useCallback, useEffect, useRef, useState } from "react";
import type { TypedDocumentString } from "../gql/graphql";
import { request } from "./client";
import { liveState, onLiveState, type LiveState } from "./live";

export type QueryState<T> = { data: T | null; error: string | null; loading: boolean; reload: () => void };

/** Run `document` with `variables`; re-runs when their JSON changes. */
export function useQuery<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  skip = false,
): QueryState<TResult> {
  const key = JSON.stringify(variables);
  const [state, setState] = useState<{ data: TResult | null; error: string | null; loading: boolean }>({
    data: null,
    error: null,
    loading: !skip,
  });
  const generation = useRef(0);
  const run = useCallback(() => {
    if (skip) return;
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    (request as (d: unknown, v: unknown) => Promise<TResult>)(document, JSON.parse(key)).then(
      (data) => mine === generation.current && setState({ data, error: null, loading: false }),
      (error: Error) => mine === generation.current && setState((s) => ({ ...s, error: error.message, loading: false })),
    );
  }, [document, key, skip]);
  useEffect(run, [run]);
  return { ...state, reload: run };
}

export function useLiveState(): LiveState {
  const [state, setState] = useState(liveState());
  useEffect(() => onLiveState(setState), []);
  return state;
}

/** A value that settles `delayMs` after its last change (for validating as one types). */
export function useDebounced<T>(value: T, delayMs = 250): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), delayMs);
    return () => clearTimeout(timer);
  }, [value, delayMs]);
  return settled;
}

/** Call `action` at most once per `intervalMs` after `signal` changes (trailing call kept). */
export function useThrottledEffect(signal: unknown, action: () => void, intervalMs: number): void {
  const last = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const latest = useRef(action);
  latest.current = action;
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    if (timer.current) return;
    const wait = Math.max(0, last.current + intervalMs - Date.now());
    timer.current = setTimeout(() => {
      timer.current = null;
      last.current = Date.now();
      latest.current();
    }, wait);
  }, [signal, intervalMs]);
  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );
}
