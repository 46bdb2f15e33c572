// The job form's state, and how it becomes a JobInput (to save) and a manifest (to validate).
import type { Concurrency, JobAlertsInput, JobFieldsFragment, JobInput, KeyValueInput } from "../gql/graphql";

/** A yes/no rule that may also be left to the tenant's default (""). */
export type Choice = "" | "yes" | "no";

/** spec.alerts as form fields: text for numbers, "" for "the tenant's default". */
export type AlertsForm = {
  own: boolean; // the manifest has its own alerts block
  onFailure: Choice;
  missedRun: Choice;
  consecutiveFailures: string;
  ratePercent: string;
  rateWindow: string;
  rateMinRuns: string;
  maxDuration: string;
  minDuration: string;
  channels: string; // names separated by commas or spaces; empty: the default channels
};

export type JobForm = {
  name: string;
  namespace: string;
  schedule: string;
  timezone: string;
  command: string;
  args: string; // one argument per line
  env: string; // NAME=value per line
  secretEnv: string; // NAME=secret-name per line
  labels: string; // key=value per line
  targetLabels: string; // key=value per line
  enabled: boolean;
  paused: boolean;
  timeout: string;
  graceTime: string;
  concurrency: Concurrency;
  alerts: AlertsForm;
  systemdAcceptDst: boolean;
  taskSchedulerAcceptDst: boolean;
};

export function emptyAlerts(): AlertsForm {
  return {
    own: false,
    onFailure: "",
    missedRun: "",
    consecutiveFailures: "",
    ratePercent: "",
    rateWindow: "",
    rateMinRuns: "",
    maxDuration: "",
    minDuration: "",
    channels: "",
  };
}

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
    secretEnv: "",
    labels: "",
    targetLabels: "",
    enabled: true,
    paused: false,
    timeout: "",
    graceTime: "300",
    concurrency: "ALLOW",
    alerts: emptyAlerts(),
    systemdAcceptDst: false,
    taskSchedulerAcceptDst: false,
  };
}

const pairsText = (pairs: { key: string; value: string }[]): string =>
  pairs.map((p) => `${p.key}=${p.value}`).join("\n");

const choice = (value: boolean | null | undefined): Choice => (value == null ? "" : value ? "yes" : "no");
const numberText = (value: number | null | undefined): string => (value == null ? "" : String(value));

function alertsForm(alerts: JobFieldsFragment["alerts"]): AlertsForm {
  if (!alerts) return emptyAlerts();
  return {
    own: true,
    onFailure: choice(alerts.onFailure),
    missedRun: choice(alerts.missedRun),
    consecutiveFailures: numberText(alerts.consecutiveFailures),
    ratePercent: numberText(alerts.failureRate?.percent),
    rateWindow: numberText(alerts.failureRate?.window),
    rateMinRuns: numberText(alerts.failureRate?.minRuns),
    maxDuration: numberText(alerts.maxDuration),
    minDuration: numberText(alerts.minDuration),
    channels: (alerts.channels ?? []).join(", "),
  };
}

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
    secretEnv: pairsText(job.secretEnv),
    labels: pairsText(job.labels),
    targetLabels: pairsText(job.targetLabels),
    enabled: job.enabled,
    paused: job.paused,
    timeout: job.timeout == null ? "" : String(job.timeout),
    graceTime: String(job.graceTime),
    concurrency: job.concurrency,
    alerts: alertsForm(job.alerts),
    systemdAcceptDst: job.systemd.acceptDstDifferences,
    taskSchedulerAcceptDst: job.taskScheduler.acceptDstDifferences,
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

const flag = (value: Choice): boolean | null => (value === "" ? null : value === "yes");
const names = (text: string): string[] => text.split(/[\s,]+/).filter(Boolean);

/** spec.alerts for the mutation: null when the job follows the tenant's defaults. */
export function alertsInput(alerts: AlertsForm): JobAlertsInput | null {
  if (!alerts.own) return null;
  const rate = alerts.ratePercent.trim() || alerts.rateWindow.trim();
  return {
    onFailure: flag(alerts.onFailure),
    missedRun: flag(alerts.missedRun),
    consecutiveFailures: integer(alerts.consecutiveFailures),
    failureRate: rate
      ? { percent: integer(alerts.ratePercent) ?? 0, window: integer(alerts.rateWindow) ?? 0, minRuns: integer(alerts.rateMinRuns) }
      : null,
    maxDuration: integer(alerts.maxDuration),
    minDuration: integer(alerts.minDuration),
    channels: names(alerts.channels).length ? names(alerts.channels) : null,
  };
}

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
    secretEnv: parsePairs(form.secretEnv),
    labels: parsePairs(form.labels),
    targetLabels: parsePairs(form.targetLabels),
    enabled: form.enabled,
    paused: form.paused,
    timeout: integer(form.timeout),
    graceTime: integer(form.graceTime),
    concurrency: form.concurrency,
    alerts: alertsInput(form.alerts),
    systemd: { acceptDstDifferences: form.systemdAcceptDst },
    taskScheduler: { acceptDstDifferences: form.taskSchedulerAcceptDst },
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
  const secretEnv = parsePairs(form.secretEnv);
  if (secretEnv.length) {
    // A secret reference needs the list form of env, which takes literal values too.
    out.push("  env:", ...env.map((p) => `    - {name: ${q(p.key)}, value: ${q(p.value)}}`));
    out.push(...secretEnv.map((p) => `    - {name: ${q(p.key)}, secretRef: ${q(p.value)}}`));
  } else if (env.length) out.push("  env:", ...mapping("    ", env));
  out.push(`  enabled: ${form.enabled}`, `  paused: ${form.paused}`);
  if (form.timeout.trim()) out.push(`  timeout: ${numberOrText(form.timeout)}`);
  if (form.graceTime.trim()) out.push(`  graceTime: ${numberOrText(form.graceTime)}`);
  out.push(`  concurrency: ${form.concurrency.toLowerCase()}`);
  if (targets.length) out.push("  targets:", "    labels:", ...mapping("      ", targets));
  out.push(...alertsYaml(form.alerts));
  if (form.systemdAcceptDst) out.push("  systemd:", "    acceptDstDifferences: true");
  if (form.taskSchedulerAcceptDst) out.push("  taskScheduler:", "    acceptDstDifferences: true");
  return out.join("\n") + "\n";
}

function alertsYaml(alerts: AlertsForm): string[] {
  if (!alerts.own) return [];
  const out: string[] = [];
  const text = (key: string, value: string) => value.trim() && out.push(`    ${key}: ${numberOrText(value)}`);
  if (alerts.onFailure) out.push(`    onFailure: ${alerts.onFailure === "yes"}`);
  text("consecutiveFailures", alerts.consecutiveFailures);
  if (alerts.ratePercent.trim() || alerts.rateWindow.trim()) {
    out.push("    failureRate:");
    if (alerts.ratePercent.trim()) out.push(`      percent: ${numberOrText(alerts.ratePercent)}`);
    if (alerts.rateWindow.trim()) out.push(`      window: ${numberOrText(alerts.rateWindow)}`);
    if (alerts.rateMinRuns.trim()) out.push(`      minRuns: ${numberOrText(alerts.rateMinRuns)}`);
  }
  if (alerts.missedRun) out.push(`    missedRun: ${alerts.missedRun === "yes"}`);
  text("maxDuration", alerts.maxDuration);
  text("minDuration", alerts.minDuration);
  const channels = names(alerts.channels);
  if (channels.length) out.push("    channels:", ...channels.map((c) => `      - ${q(c)}`));
  return out.length ? ["  alerts:", ...out] : ["  alerts: {}"];
}

/** The name a clone of `name` is offered: "backup-copy", never "backup-copy-copy". Job names
 * are DNS labels (63 characters at most), so a long name is shortened to make room. */
export function cloneName(name: string): string {
  const base = name.replace(/-copy(-\d+)?$/, "");
  return `${base.slice(0, 63 - "-copy".length).replace(/-+$/, "")}-copy`;
}

/** The toast after a save: what was saved, and the commit message when one was given. */
export function savedNotice(namespace: string, name: string, existed: boolean, message: string | null): string {
  const what = `${existed ? "Saved" : "Created"} ${namespace}/${name}`;
  return message ? `${what}: “${message.split("\n")[0]}”` : what;
}
