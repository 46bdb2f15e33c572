// Re-read what depends on endpoints when one enrolls, comes online, goes offline or is revoked.
import { useEffect, useRef } from "react";
import { EndpointEventsSubscription } from "./endpointOperations";
import { subscribe } from "./live";

export function useEndpointEvents(onEvent: () => void): void {
  // One subscription for the component's life, calling the latest handler.
  const latest = useRef(onEvent);
  latest.current = onEvent;
  useEffect(() => subscribe(EndpointEventsSubscription, {}, () => latest.current()), []);
}
