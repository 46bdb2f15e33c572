// The console's pages in navigation order: the sidebar, the shortcut list and the palette.
export const PAGES: [string, string][] = [
  ["/", "Dashboard"],
  ["/runs", "Run log"],
  ["/health-report", "Health"],
  ["/alerts", "Alerts"],
  ["/jobs", "Jobs"],
  ["/endpoints", "Endpoints"],
  ["/namespaces", "Namespaces"],
  ["/secrets", "Secrets"],
  ["/tokens", "API tokens"],
  ["/members", "Members"],
  ["/audit", "Audit"],
  ["/install", "Install agent"],
  ["/playground", "Playground"],
  ["/account", "Account"],
];

/** Pages reached from elsewhere rather than the sidebar, which the palette still offers. */
export const OTHER_PAGES: [string, string][] = [["/jobs/new", "New job"]];

export function pageName(path: string): string {
  return [...PAGES, ...OTHER_PAGES].find(([href]) => href === path)?.[1] ?? path;
}
