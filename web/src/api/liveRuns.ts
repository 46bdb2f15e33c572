// A list of runs kept current by `runEvents`: the first page from `runs`, then live merges.
import { useEffect, useRef, useState, type Dispatch, type SetStateAction } from "react";
import type { RunFilter } from "../gql/graphql";
import { mergeRuns, type RunRow } from "../lib/runs";
import { subscribe } from "./live";
import { RunEventsSubscription } from "./operations";

/** Keep `initial` merged with live events matching `filter`; batches of events render once per
 * frame. Also returns how many batches arrived, for things that follow the live stream. */
export function useLiveRuns(initial: RunRow[] | null, filter: RunFilter | null, limit = 1000): [RunRow[], Dispatch<SetStateAction<RunRow[]>>, number] {
  const [runs, setRuns] = useState<RunRow[]>([]);
  const [batches, setBatches] = useState(0);
  const pending = useRef<RunRow[]>([]);
  const frame = useRef<number | null>(null);
  const key = JSON.stringify(filter);
  // Runs that arrived live, so a first page answered after them does not hide them.
  const seen = useRef<RunRow[]>([]);
  useEffect(() => {
    if (initial) setRuns(mergeRuns(initial, seen.current, filter, limit));
    // eslint-disable-next-line react-hooks/exhaustive-deps -- only a new first page resets the list
  }, [initial]);
  useEffect(() => {
    const flush = () => {
      frame.current = null;
      const batch = pending.current;
      pending.current = [];
      seen.current = mergeRuns(seen.current, batch, filter, limit);
      setRuns((current) => mergeRuns(current, batch, filter, limit));
      setBatches((n) => n + 1);
    };
    const stop = subscribe(RunEventsSubscription, { filter }, (data) => {
      for (const event of data.runEvents) pending.current.push(event.run);
      frame.current ??= requestAnimationFrame(flush);
    });
    return () => {
      stop();
      if (frame.current != null) cancelAnimationFrame(frame.current);
      frame.current = null;
      pending.current = [];
      seen.current = [];
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- the filter is keyed by its JSON
  }, [key, limit]);
  return [runs, setRuns, batches];
}
