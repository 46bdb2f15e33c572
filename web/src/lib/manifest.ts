// The job form's state, and how it becomes a JobInput (to save) and a manifest (to validate).
import type { Concurrency, JobFieldsFragment, JobInput, KeyValueInput } from "../gql/graphql";

export type JobForm = {
  name: string;
  namespace: string;
  schedule: string;
  timezone: string;
  command: string;
  args: string; // one argument per line
  env: string; // NAME=value per line
  labels: string; // key=value per line
  targetLabels: string; // key=value per line
  enabled: boolean;
  paused: boolean;
  timeout: string;
  graceTime: string;
  concurrency: Concurrency;
};

// Validation of a job not saved yet needs some id; the server assigns the real one.
export const DRAFT_ID = "00000000-0000-4000-8000-000000000000";

export function emptyForm(namespace = "default"): JobForm {
  return {
    name: "",
    namespace,
    schedule: "*/5 * * * *",
    timezone: "UTC",
    command: "",
    args: "",
    env: "",
    labels: "",
    targetLabels: "",
    enabled: true,
    paused: false,
    timeout: "",
    graceTime: "300",
    concurrency: "ALLOW",
  };
}

const pairsText = (pairs: { key: string; value: string }[]): string =>
  pairs.map((p) => `${p.key}=${p.value}`).join("\n");

/** The form filled with an existing job. */
export function formFromJob(job: JobFieldsFragment): JobForm {
  return {
    name: job.name,
    namespace: job.namespace,
    schedule: job.schedule,
    timezone: job.timezone,
    command: job.command,
    args: job.args.join("\n"),
    env: pairsText(job.env),
    labels: pairsText(job.labels),
    targetLabels: pairsText(job.targetLabels),
    enabled: job.enabled,
    paused: job.paused,
    timeout: job.timeout == null ? "" : String(job.timeout),
    graceTime: String(job.graceTime),
    concurrency: job.concurrency,
  };
}

/** Parse "key=value" lines; blank lines are skipped, a line without "=" has an empty value. */
export function parsePairs(text: string): KeyValueInput[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const at = line.indexOf("=");
      return at < 0 ? { key: line, value: "" } : { key: line.slice(0, at).trim(), value: line.slice(at + 1) };
    });
}

const lines = (text: string): string[] => text.split("\n").filter((line) => line.trim() !== "");
const integer = (text: string): number | null => (text.trim() === "" ? null : Number(text.trim()));

/** The mutation input for the form. */
export function jobInput(form: JobForm): JobInput {
  return {
    name: form.name.trim(),
    namespace: form.namespace.trim() || "default",
    schedule: form.schedule.trim(),
    timezone: form.timezone.trim() || null,
    command: form.command,
    args: lines(form.args),
    env: parsePairs(form.env),
    labels: parsePairs(form.labels),
    targetLabels: parsePairs(form.targetLabels),
    enabled: form.enabled,
    paused: form.paused,
    timeout: integer(form.timeout),
    graceTime: integer(form.graceTime),
    concurrency: form.concurrency,
  };
}

// JSON strings are valid YAML double-quoted scalars, so every value is quoted safely.
const q = (value: string): string => JSON.stringify(value);
const numberOrText = (text: string): string => (/^\d+$/.test(text.trim()) ? text.trim() : q(text));

function mapping(indent: string, pairs: KeyValueInput[]): string[] {
  return pairs.map((p) => `${indent}${q(p.key)}: ${q(p.value)}`);
}

/** The manifest the server would commit for this form (for `validateManifest`). */
export function manifestYaml(form: JobForm, id: string = DRAFT_ID): string {
  const labels = parsePairs(form.labels);
  const env = parsePairs(form.env);
  const targets = parsePairs(form.targetLabels);
  const out = [
    "apiVersion: crontopus.io/v1",
    "kind: Job",
    "metadata:",
    `  id: ${q(id)}`,
    `  name: ${q(form.name.trim())}`,
    `  namespace: ${q(form.namespace.trim() || "default")}`,
  ];
  if (labels.length) out.push("  labels:", ...mapping("    ", labels));
  out.push("spec:", `  schedule: ${q(form.schedule.trim())}`);
  if (form.timezone.trim()) out.push(`  timezone: ${q(form.timezone.trim())}`);
  out.push(`  command: ${q(form.command)}`);
  const args = lines(form.args);
  if (args.length) out.push("  args:", ...args.map((a) => `    - ${q(a)}`));
  if (env.length) out.push("  env:", ...mapping("    ", env));
  out.push(`  enabled: ${form.enabled}`, `  paused: ${form.paused}`);
  if (form.timeout.trim()) out.push(`  timeout: ${numberOrText(form.timeout)}`);
  if (form.graceTime.trim()) out.push(`  graceTime: ${numberOrText(form.graceTime)}`);
  out.push(`  concurrency: ${form.concurrency.toLowerCase()}`);
  if (targets.length) out.push("  targets:", "    labels:", ...mapping("      ", targets));
  return out.join("\n") + "\n";
}
