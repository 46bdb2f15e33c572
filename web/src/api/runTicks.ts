// A counter that moves when runs are reported, for views that re-read figures on run events.
import { useEffect, useRef, useState } from "react";
import { subscribe } from "./live";
import { RunEventsSubscription } from "./operations";

/** How many batches of run events arrived (one per animation frame at most). */
export function useRunTicks(): number {
  const [ticks, setTicks] = useState(0);
  const frame = useRef<number | null>(null);
  useEffect(() => {
    const stop = subscribe(RunEventsSubscription, { filter: null }, () => {
      frame.current ??= requestAnimationFrame(() => {
        frame.current = null;
        setTicks((n) => n + 1);
      });
    });
    return () => {
      stop();
      if (frame.current != null) cancelAnimationFrame(frame.current);
      frame.current = null;
    };
  }, []);
  return ticks;
}
