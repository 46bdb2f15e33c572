// Which form field a validator's problem belongs to, so each problem shows once, at its field.
// The server names problems by manifest path (spec.schedule, metadata.name) or by mutation
// input path (input.schedule); both lead to the same form field.

export type Problem = { path: string; message: string };

/** Problems grouped by form field; `general` holds those no field of the form shows. */
export type FieldProblems = { byField: Record<string, string[]>; general: Problem[] };

const ALERT_FIELDS: Record<string, string> = {
  "failureRate.percent": "alerts.ratePercent",
  "failureRate.window": "alerts.rateWindow",
  "failureRate.minRuns": "alerts.rateMinRuns",
  failureRate: "alerts.ratePercent",
};

const SIMPLE = new Set([
  "name",
  "namespace",
  "schedule",
  "timezone",
  "command",
  "args",
  "labels",
  "timeout",
  "graceTime",
  "concurrency",
  "enabled",
  "paused",
  "secretEnv",
  "targetLabels",
]);

/** The job form's field for a problem's path, or null when no field of the form holds it. */
export function jobFieldOf(path: string): string | null {
  const parts = path.split(".").filter((p) => p !== "input" && p !== "metadata" && p !== "spec");
  const [head, ...rest] = parts;
  if (!head) return null;
  if (head === "alerts") {
    const tail = rest.filter((p) => !/^\d+$/.test(p)).join(".");
    if (!tail) return "alerts.own";
    return ALERT_FIELDS[tail] ?? `alerts.${rest[0]}`;
  }
  if (head === "env") return rest.includes("secretRef") ? "secretEnv" : "env";
  if (head === "targets") return "targetLabels";
  if (head === "systemd") return "systemdAcceptDst";
  if (head === "taskScheduler") return "taskSchedulerAcceptDst";
  return SIMPLE.has(head) ? head : null;
}

/** Group problems by field, each distinct message once; `fieldOf` maps a path to a field. */
export function groupProblems(problems: Problem[], fieldOf: (path: string) => string | null = jobFieldOf): FieldProblems {
  const byField: Record<string, string[]> = {};
  const general: Problem[] = [];
  const seen = new Set<string>();
  for (const problem of problems) {
    const field = fieldOf(problem.path);
    const key = `${field ?? problem.path}\u0000${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (field) (byField[field] ??= []).push(problem.message);
    else general.push(problem);
  }
  return { byField, general };
}

/** The id of the element that describes a field's problems (for aria-describedby). */
export function errorId(field: string): string {
  return `error-${field.replace(/[^A-Za-z0-9_-]/g, "-")}`;
}

/** The names of the fields whose values differ between two forms (nested objects by dotted path). */
export function changedFields(before: object, after: object, prefix = ""): string[] {
  const out: string[] = [];
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[key];
    const y = b[key];
    if (x && y && typeof x === "object" && typeof y === "object") out.push(...changedFields(x, y, `${prefix}${key}.`));
    else if (x !== y) out.push(`${prefix}${key}`);
  }
  return out;
}
