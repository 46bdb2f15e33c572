// Re-read what depends on endpoints when one enrolls, comes online, goes offline or is revoked.
import { useEffect } from "react";
import { EndpointEventsSubscription } from "./endpointOperations";
import { subscribe } from "./live";

export function useEndpointEvents(onEvent: () => void): void {
  useEffect(() => subscribe(EndpointEventsSubscription, {}, () => onEvent()), [onEvent]);
}
