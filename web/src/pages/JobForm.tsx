// Create and edit a job: validated as you type by the server's own validator, with a live
// schedule preview; a save that meets someone else's change shows it instead of overwriting.
import { useEffect, useMemo, useRef, useState, type FormEvent, type ReactNode } from "react";
import { request } from "../api/client";
import { useDebounced, useQuery } from "../api/hooks";
import {
  CreateJobFromManifestMutation,
  CreateJobMutation,
  CreateNamespaceMutation,
  JobQuery,
  NamespacesQuery,
  SchedulePreviewQuery,
  UpdateJobFromManifestMutation,
  UpdateJobMutation,
  ValidateManifestQuery,
} from "../api/operations";
import { ErrorNote, Loading } from "../components/bits";
import { DiffView } from "../components/code";
import type { JobFieldsFragment } from "../gql/graphql";
import { changedFields, errorId, groupProblems, type Problem } from "../lib/fieldErrors";
import { formatTime } from "../lib/format";
import { toast } from "../lib/toast";
import { failureText } from "../lib/mutationErrors";
import { cloneName, emptyForm, formFromJob, savedNotice, jobInput, manifestYaml, type AlertsForm, type Choice, type JobForm } from "../lib/manifest";
import { Link, navigate, useLocation } from "../router";

type Conflict = { theirs: JobFieldsFragment; message: string };
type Mode = "form" | "yaml";

/** The problems of one field, shown under it; the field points here with aria-describedby. */
function FieldError({ field, errors }: { field: string; errors?: string[] }) {
  if (!errors?.length) return null;
  return (
    <span className="error field-error" id={errorId(field)} data-testid="field-error" data-field={field}>
      {errors.join("; ")}
    </span>
  );
}

/** aria-invalid and aria-describedby for a field with problems. */
function invalid(field: string, errors?: string[]) {
  return errors?.length ? { "aria-invalid": true as const, "aria-describedby": errorId(field) } : {};
}

type Errors = Record<string, string[]>;

function ChoiceSelect({ name, value, onChange, errors }: { name: string; value: Choice; onChange: (value: Choice) => void; errors: Errors }) {
  return (
    <select name={name} value={value} onChange={(e) => onChange(e.target.value as Choice)} {...invalid(name, errors[name])}>
      <option value="">tenant default</option>
      <option value="yes">yes</option>
      <option value="no">no</option>
    </select>
  );
}

/** spec.alerts as a form: every rule optional, an empty field takes the tenant's default. */
function AlertRules({ alerts, onChange, errors }: { alerts: AlertsForm; onChange: (alerts: AlertsForm) => void; errors: Errors }) {
  const put = <K extends keyof AlertsForm>(key: K, value: AlertsForm[K]) => onChange({ ...alerts, [key]: value });
  const text = (key: keyof AlertsForm, label: string, hint: string) => (
    <label>
      {label} <span className="muted">({hint})</span>
      <input
        name={`alerts.${key}`}
        value={alerts[key] as string}
        onChange={(e) => put(key, e.target.value)}
        inputMode="numeric"
        {...invalid(`alerts.${key}`, errors[`alerts.${key}`])}
      />
      <FieldError field={`alerts.${key}`} errors={errors[`alerts.${key}`]} />
    </label>
  );
  return (
    <fieldset className="alert-rules" data-testid="alert-rules">
      <legend>Alert rules</legend>
      <label className="check">
        <input type="checkbox" name="alerts.own" checked={alerts.own} onChange={(e) => put("own", e.target.checked)} /> This job has its own
        alert rules <span className="muted">(otherwise the tenant's defaults apply)</span>
      </label>
      <FieldError field="alerts.own" errors={errors["alerts.own"]} />
      {alerts.own && (
        <div className="grid2">
          <label>
            Alert on every failure
            <ChoiceSelect name="alerts.onFailure" value={alerts.onFailure} onChange={(v) => put("onFailure", v)} errors={errors} />
            <FieldError field="alerts.onFailure" errors={errors["alerts.onFailure"]} />
          </label>
          <label>
            Alert on a missed run
            <ChoiceSelect name="alerts.missedRun" value={alerts.missedRun} onChange={(v) => put("missedRun", v)} errors={errors} />
            <FieldError field="alerts.missedRun" errors={errors["alerts.missedRun"]} />
          </label>
          {text("consecutiveFailures", "Consecutive failures", "alert after this many in a row")}
          {text("maxDuration", "Longest run", "seconds; longer alerts")}
          {text("minDuration", "Shortest run", "seconds; shorter alerts")}
          <label>
            Channels <span className="muted">(names, comma-separated; empty: the default channels)</span>
            <input name="alerts.channels" value={alerts.channels} onChange={(e) => put("channels", e.target.value)} {...invalid("alerts.channels", errors["alerts.channels"])} />
            <FieldError field="alerts.channels" errors={errors["alerts.channels"]} />
          </label>
          {text("ratePercent", "Failure rate", "percent of runs")}
          {text("rateWindow", "over a window", "seconds")}
          {text("rateMinRuns", "counting at least", "runs; default 3")}
        </div>
      )}
    </fieldset>
  );
}

/** Pick a namespace, or create one here without leaving the form. */
function NamespacePicker({ value, onChange, errors }: { value: string; onChange: (value: string) => void; errors?: string[] }) {
  const namespaces = useQuery(NamespacesQuery, {});
  const [creating, setCreating] = useState(false);
  const [draft, setDraft] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const names = (namespaces.data?.namespaces ?? []).filter((ns) => !ns.isSystem || ns.name === value).map((ns) => ns.name);
  if (value && !names.includes(value)) names.push(value);
  const create = async () => {
    const name = draft.trim();
    if (!name) return;
    const result = (await request(CreateNamespaceMutation, { name })).createNamespace;
    if (result.__typename === "Namespace") {
      setCreating(false);
      setDraft("");
      setProblem(null);
      namespaces.reload();
      onChange(name);
    } else {
      setProblem(failureText(result, "The namespace could not be created"));
    }
  };
  const problems = problem ? [problem] : errors;
  return (
    <div className="field">
      <label htmlFor="job-namespace">Namespace</label>
      <div className="row nowrap">
        <select
          id="job-namespace"
          name="namespace"
          value={value}
          onChange={(e) => onChange(e.target.value)}
          {...invalid("namespace", problems)}
        >
          {names.map((name) => (
            <option key={name}>{name}</option>
          ))}
        </select>
        {!creating && (
          <button type="button" className="button small" onClick={() => setCreating(true)}>
            New namespace
          </button>
        )}
      </div>
      {creating && (
        <div className="row nowrap" data-testid="new-namespace">
          <input
            aria-label="New namespace name"
            value={draft}
            placeholder="new-namespace"
            autoFocus
            onChange={(e) => {
              setDraft(e.target.value);
              setProblem(null);
            }}
            onKeyDown={(e) => {
              // Enter creates the namespace, not the job.
              if (e.key === "Enter") {
                e.preventDefault();
                void create();
              }
            }}
          />
          <button type="button" className="button small primary" onClick={create}>
            Create
          </button>
          <button type="button" className="button small" onClick={() => (setCreating(false), setProblem(null))}>
            Cancel
          </button>
        </div>
      )}
      <FieldError field="namespace" errors={problems} />
    </div>
  );
}

export function JobFormPage({ id }: { id?: string }) {
  const { query } = useLocation();
  const existing = useQuery(JobQuery, { id: id ?? "" }, !id);
  // "Clone" opens the new-job form filled with another job under a new name.
  const cloneOf = id ? null : query.get("clone");
  const source = useQuery(JobQuery, { id: cloneOf ?? "" }, !cloneOf);
  const [form, setForm] = useState<JobForm>(() => emptyForm(query.get("namespace") ?? "default"));
  const [blobId, setBlobId] = useState<string | null>(null);
  const [cloned, setCloned] = useState(false);
  const [note, setNote] = useState("");
  useEffect(() => {
    const job = existing.data?.job;
    if (job && blobId === null) {
      setForm(formFromJob(job));
      setBlobId(job.blobId);
    }
  }, [existing.data, blobId]);
  useEffect(() => {
    const job = source.data?.job;
    if (job && !cloned) {
      setCloned(true);
      setForm({ ...formFromJob(job), name: cloneName(job.name) });
      setNote(`Clone of ${job.namespace}/${job.name}`);
    }
  }, [source.data, cloned]);

  const [mode, setMode] = useState<Mode>("form");
  const [yamlText, setYamlText] = useState("");
  const formYaml = useMemo(() => manifestYaml(form, id), [form, id]);
  const yaml = mode === "yaml" ? yamlText : formYaml;
  const settledYaml = useDebounced(yaml, 300);
  const settledSchedule = useDebounced({ schedule: form.schedule.trim(), timezone: form.timezone.trim() || "UTC" }, 200);
  const validation = useQuery(ValidateManifestQuery, { yaml: settledYaml }, mode === "form" ? !form.name && !form.command : !settledYaml.trim());
  const validated = validation.data?.validateManifest;
  // The validator's answer is about what is on screen only once it caught up with the last edit.
  const current = !validation.loading && settledYaml === yaml;
  // The YAML written is turned back into the form by the server's own reading of it.
  const parsed = mode === "yaml" && validated?.valid && settledYaml === yamlText ? validated.job : null;

  const toYaml = () => {
    const original = existing.data?.job;
    // An untouched job shows its manifest exactly as stored; otherwise the form's.
    const same = original && JSON.stringify(formFromJob(original)) === JSON.stringify(form);
    setYamlText(same ? original.yaml : formYaml);
    setMode("yaml");
  };
  const toForm = () => {
    if (!parsed) return;
    setForm(formFromJob(parsed));
    setMode("form");
  };
  const preview = useQuery(SchedulePreviewQuery, settledSchedule, !settledSchedule.schedule);
  const [saveProblems, setSaveProblems] = useState<Problem[]>([]);
  const [saveError, setSaveError] = useState<string | null>(null);
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [busy, setBusy] = useState(false);
  // Fields edited since the validator last answered: their old problems are hidden at once.
  const [edited, setEdited] = useState<Set<string>>(new Set());
  const answered = useRef(validated);
  useEffect(() => {
    if (current && validated !== answered.current) {
      answered.current = validated;
      setEdited(new Set());
    }
  }, [current, validated]);

  const update = (next: (f: JobForm) => JobForm) => {
    const after = next(form);
    const changed = changedFields(form, after);
    setForm(after);
    if (changed.length) {
      setEdited((e) => new Set([...e, ...changed]));
      setSaveProblems([]);
      setSaveError(null);
    }
  };
  const set = <K extends keyof JobForm>(key: K) =>
    (event: { target: { value: string; checked?: boolean; type?: string } }) =>
      update((f) => ({ ...f, [key]: event.target.type === "checkbox" ? event.target.checked : event.target.value }));

  const save = async (event: FormEvent, expectedBlobId: string | null = blobId) => {
    event.preventDefault();
    setBusy(true);
    setSaveError(null);
    setSaveProblems([]);
    try {
      const input = jobInput(form);
      const expected = expectedBlobId ?? "";
      const message = note.trim() || null;
      const result =
        mode === "yaml"
          ? id
            ? (await request(UpdateJobFromManifestMutation, { id, expectedBlobId: expected, manifest: yamlText, message })).updateJob
            : (await request(CreateJobFromManifestMutation, { manifest: yamlText, message })).createJob
          : id
            ? (await request(UpdateJobMutation, { id, expectedBlobId: expected, input, message })).updateJob
            : (await request(CreateJobMutation, { input, message })).createJob;
      if (result.__typename === "Job") {
        toast(savedNotice(result.namespace, result.name, Boolean(id), message));
        navigate(`/jobs/${result.id}`);
        return;
      }
      if (result.__typename === "ConflictError" && id) {
        const current = await request(JobQuery, { id });
        if (current.job) setConflict({ theirs: current.job, message: result.message });
        else setSaveError(result.message);
        return;
      }
      if (result.__typename === "ValidationError" && result.fields.length > 0) {
        // Shown at their fields; the summary would only repeat them.
        setSaveProblems(result.fields.map((f) => ({ path: f.path.join("."), message: f.message })));
        setEdited(new Set());
        return;
      }
      setSaveError("message" in result ? result.message : "The job could not be saved");
    } catch (e) {
      setSaveError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  // A new job's id is the server's: a manifest written without one is fine to send.
  const idLeftOut = (p: Problem) => !id && mode === "yaml" && p.path === "metadata.id" && p.message.startsWith("is missing");
  const checked: Problem[] = current ? (validated?.problems ?? []).filter((p) => !idLeftOut(p)) : [];
  const schedule = preview.data?.schedulePreview;
  // The schedule preview reads the schedule faster than the validator: its complaint stands in
  // for the validator's until that answers, never beside it.
  const scheduleProblem =
    schedule?.__typename === "ValidationError" && !checked.some((p) => p.path === "spec.schedule" || p.path === "spec.timezone")
      ? [{ path: "spec.schedule", message: schedule.message }]
      : [];
  const grouped = groupProblems(mode === "yaml" ? [] : [...checked, ...saveProblems, ...scheduleProblem]);
  const errors: Errors = Object.fromEntries(Object.entries(grouped.byField).filter(([field]) => !edited.has(field)));
  const listed: Problem[] = mode === "yaml" ? groupProblems([...checked, ...saveProblems], () => null).general : grouped.general;
  const warnings: Problem[] = current ? (validated?.warnings ?? []) : [];
  const valid = current && validated && checked.length === 0 && saveProblems.length === 0;

  const field = (key: keyof JobForm, label: ReactNode, control: (props: Record<string, unknown>) => ReactNode) => (
    <label>
      {label}
      {control({ name: key, value: form[key] as string, onChange: set(key), ...invalid(key, errors[key]) })}
      <FieldError field={key} errors={errors[key]} />
    </label>
  );
  const input = (key: keyof JobForm, label: ReactNode, extra: Record<string, unknown> = {}) =>
    field(key, label, (props) => <input {...props} {...extra} />);
  const area = (key: keyof JobForm, label: ReactNode, rows: number, extra: Record<string, unknown> = {}) =>
    field(key, label, (props) => <textarea {...props} rows={rows} className="mono" {...extra} />);

  if (id && existing.loading && !existing.data) return <Loading when />;
  return (
    <>
      <header className="page-head">
        <h1>{id ? `Edit ${form.name}` : cloneOf ? "Clone job" : "New job"}</h1>
        <Link href={id ? `/jobs/${id}` : "/jobs"}>Cancel</Link>
      </header>
      {conflict && (
        <section className="card conflict" role="alert" data-testid="conflict">
          <h2>Someone changed this job meanwhile</h2>
          <p>{conflict.message}</p>
          <p className="muted">Their version (red) against yours (green):</p>
          <DiffView before={conflict.theirs.yaml} after={yaml} />
          <div className="row">
            <button
              className="button"
              onClick={() => {
                setForm(formFromJob(conflict.theirs));
                setYamlText(conflict.theirs.yaml);
                setBlobId(conflict.theirs.blobId);
                setConflict(null);
              }}
            >
              Discard mine, edit theirs
            </button>
            <button
              className="button danger"
              onClick={(event) => {
                setBlobId(conflict.theirs.blobId);
                setConflict(null);
                void save(event, conflict.theirs.blobId);
              }}
            >
              Replace theirs with mine
            </button>
          </div>
        </section>
      )}
      <div className="row mode-switch">
        <div className="segmented" role="tablist" aria-label="Edit as">
          <button type="button" role="tab" aria-selected={mode === "form"} className={mode === "form" ? "active" : ""} onClick={toForm} disabled={mode === "yaml" && !parsed}>
            Form
          </button>
          <button type="button" role="tab" aria-selected={mode === "yaml"} className={mode === "yaml" ? "active" : ""} onClick={() => mode === "form" && toYaml()}>
            YAML
          </button>
        </div>
        {mode === "yaml" && !parsed && <span className="muted small">Fix the problems below to go back to the form.</span>}
        {mode === "yaml" && !id && <span className="muted small">The server assigns the id: metadata.id may be left out.</span>}
      </div>
      <form className="card job-form" onSubmit={(e) => save(e)} noValidate={false}>
        {mode === "yaml" ? (
          <label>
            Manifest
            <textarea
              name="manifest"
              className="mono manifest-editor"
              value={yamlText}
              onChange={(e) => {
                setYamlText(e.target.value);
                setSaveProblems([]);
                setSaveError(null);
              }}
              rows={Math.max(16, yamlText.split("\n").length + 2)}
              spellCheck={false}
              aria-invalid={listed.length > 0}
              aria-describedby="manifest-problems"
            />
          </label>
        ) : (
          <>
            <div className="grid2">
              {input("name", "Name", { required: true, placeholder: "backup-database" })}
              <NamespacePicker
                value={form.namespace}
                onChange={(namespace) => update((f) => ({ ...f, namespace }))}
                errors={errors.namespace}
              />
              {input("schedule", "Schedule", { required: true, className: "mono" })}
              {input("timezone", "Time zone", { placeholder: "UTC" })}
            </div>
            <div className="preview" data-testid="schedule-preview">
              {schedule?.__typename === "SchedulePreview" && (
                <>
                  <span className="muted">
                    <code>{schedule.expression}</code> next:
                  </span>
                  {schedule.nextRuns.map((t) => (
                    <span key={t} className="chip">
                      {formatTime(t, schedule.timezone)}
                    </span>
                  ))}
                </>
              )}
            </div>
            {input("command", "Command", { required: true, className: "mono", placeholder: "/opt/scripts/backup.sh" })}
            <div className="grid2">
              {area("args", <>Arguments <span className="muted">(one per line)</span></>, 3)}
              {area("env", <>Environment <span className="muted">(NAME=value per line)</span></>, 3)}
              {area("secretEnv", <>Secrets <span className="muted">(NAME=secret-name per line; values from the Secrets page)</span></>, 2, {
                placeholder: "DB_PASSWORD=db-password",
              })}
              {area("labels", <>Labels <span className="muted">(key=value per line)</span></>, 2)}
              {area("targetLabels", <>Target endpoint labels <span className="muted">(none: every endpoint)</span></>, 2)}
              {input("timeout", <>Timeout <span className="muted">(seconds)</span></>, { inputMode: "numeric" })}
              {input("graceTime", <>Grace time <span className="muted">(seconds)</span></>, { inputMode: "numeric" })}
              {field("concurrency", "Concurrency", (props) => (
                <select {...props}>
                  <option value="ALLOW">allow overlapping runs</option>
                  <option value="FORBID">forbid overlapping runs</option>
                </select>
              ))}
              <div className="checks">
                <label className="check">
                  <input type="checkbox" name="enabled" checked={form.enabled} onChange={set("enabled")} /> Enabled
                </label>
                <label className="check">
                  <input type="checkbox" name="paused" checked={form.paused} onChange={set("paused")} /> Paused
                </label>
                <FieldError field="enabled" errors={errors.enabled} />
                <FieldError field="paused" errors={errors.paused} />
              </div>
            </div>
            <AlertRules alerts={form.alerts} onChange={(alerts) => update((f) => ({ ...f, alerts }))} errors={errors} />
            <fieldset>
              <legend>Native schedulers</legend>
              <label className="check">
                <input type="checkbox" name="systemdAcceptDst" checked={form.systemdAcceptDst} onChange={set("systemdAcceptDst")} /> systemd may
                install it where its clock-change handling differs from cron's
              </label>
              <FieldError field="systemdAcceptDst" errors={errors.systemdAcceptDst} />
              <label className="check">
                <input type="checkbox" name="taskSchedulerAcceptDst" checked={form.taskSchedulerAcceptDst} onChange={set("taskSchedulerAcceptDst")} />{" "}
                Task Scheduler may install it where its clock-change handling differs from cron's
              </label>
              <FieldError field="taskSchedulerAcceptDst" errors={errors.taskSchedulerAcceptDst} />
            </fieldset>
          </>
        )}
        <div className="validation" id="manifest-problems" data-testid="validation" aria-live="polite">
          {valid && <span className="ok-text">✓ Valid manifest</span>}
          {!valid && Object.keys(errors).length > 0 && (
            <span className="error">Fix the {Object.keys(errors).length === 1 ? "field" : "fields"} marked above.</span>
          )}
          {listed.map((p, i) => (
            <div key={i} className="error" data-testid="manifest-problem">
              <code>{p.path}</code>: {p.message}
            </div>
          ))}
          {warnings.map((w, i) => (
            <div key={`w${i}`} className="warning" data-testid="manifest-warning">
              ⚠ <code>{w.path}</code>: {w.message}
            </div>
          ))}
        </div>
        <label className="commit-message">
          <span>
            Commit message <span className="muted">(optional: why, for the job&apos;s Git history)</span>
          </span>
          <input name="message" value={note} onChange={(e) => setNote(e.target.value)} placeholder={id ? "Run later: the dump now takes longer" : "Nightly backup of the billing database"} maxLength={2000} />
        </label>
        <ErrorNote error={saveError} />
        <button className="button primary" disabled={busy}>
          {id ? "Save changes" : "Create job"}
        </button>
      </form>
    </>
  );
}
