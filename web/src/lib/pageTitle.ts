// Each page's title in the browser's tab and history, and which field "/" focuses.

const TITLES: [RegExp, string][] = [
  [/^\/$/, "Dashboard"],
  [/^\/runs\/[^/]+$/, "Run"],
  [/^\/runs$/, "Run log"],
  [/^\/health-report$/, "Health"],
  [/^\/alerts$/, "Alerts"],
  [/^\/jobs\/new$/, "New job"],
  [/^\/jobs\/[^/]+\/edit$/, "Edit job"],
  [/^\/jobs\/[^/]+$/, "Job"],
  [/^\/jobs$/, "Jobs"],
  [/^\/endpoints\/[^/]+$/, "Endpoint"],
  [/^\/endpoints$/, "Endpoints"],
  [/^\/namespaces$/, "Namespaces"],
  [/^\/secrets$/, "Secrets"],
  [/^\/tokens$/, "API tokens"],
  [/^\/members$/, "Members"],
  [/^\/audit$/, "Audit log"],
  [/^\/install$/, "Install agent"],
  [/^\/playground$/, "Playground"],
  [/^\/account$/, "Account"],
  [/^\/login$/, "Log in"],
  [/^\/register$/, "Register"],
];

/** The document title for a path before its page has loaded: "Jobs · Crontopus". */
export function titleFor(path: string): string {
  const found = TITLES.find(([pattern]) => pattern.test(path));
  return `${found ? found[1] : "Not found"} · Crontopus`;
}

/** The title once the page shows its heading (a job's name, say): "nightly-backup · Crontopus". */
export function titleFromHeading(heading: string | null | undefined, path: string): string {
  const text = heading?.replace(/\s+/g, " ").trim();
  return text ? `${text} · Crontopus` : titleFor(path);
}

/** Where "/" looks, best first: the page's search field, else its first filter. */
export const SEARCH_FIELDS = ["main input[name=q]", "main input[type=search]", "main .filters input", "main .filters select"];

/** The field "/" focuses on the page shown, if any. */
export function searchField(root: ParentNode = document): HTMLElement | null {
  for (const selector of SEARCH_FIELDS) {
    const found = root.querySelector<HTMLElement>(selector);
    if (found) return found;
  }
  return null;
}
