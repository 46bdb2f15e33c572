// Create and edit a job: validated as you type by the server's own validator, with a live
// schedule preview; a save that meets someone else's change shows it instead of overwriting.
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { request } from "../api/client";
import { useDebounced, useQuery } from "../api/hooks";
import {
  CreateJobFromManifestMutation,
  CreateJobMutation,
  JobQuery,
  SchedulePreviewQuery,
  UpdateJobFromManifestMutation,
  UpdateJobMutation,
  ValidateManifestQuery,
} from "../api/operations";
import { ErrorNote, Loading } from "../components/bits";
import { DiffView } from "../components/code";
import type { JobFieldsFragment } from "../gql/graphql";
import { formatTime } from "../lib/format";
import { emptyForm, formFromJob, jobInput, manifestYaml, type AlertsForm, type Choice, type JobForm } from "../lib/manifest";
import { Link, navigate, useLocation } from "../router";

type Problem = { path: string; message: string };
type Conflict = { theirs: JobFieldsFragment; message: string };
type Mode = "form" | "yaml";

function ChoiceSelect({ name, value, onChange }: { name: string; value: Choice; onChange: (value: Choice) => void }) {
  return (
    <select name={name} value={value} onChange={(e) => onChange(e.target.value as Choice)}>
      <option value="">tenant default</option>
      <option value="yes">yes</option>
      <option value="no">no</option>
    </select>
  );
}

/** spec.alerts as a form: every rule optional, an empty field takes the tenant's default. */
function AlertRules({ alerts, onChange }: { alerts: AlertsForm; onChange: (alerts: AlertsForm) => void }) {
  const put = <K extends keyof AlertsForm>(key: K, value: AlertsForm[K]) => onChange({ ...alerts, [key]: value });
  const text = (key: keyof AlertsForm, label: string, hint: string) => (
    <label>
      {label} <span className="muted">({hint})</span>
      <input name={`alerts.${key}`} value={alerts[key] as string} onChange={(e) => put(key, e.target.value)} inputMode="numeric" />
    </label>
  );
  return (
    <fieldset className="alert-rules" data-testid="alert-rules">
      <legend>Alert rules</legend>
      <label className="check">
        <input type="checkbox" name="alerts.own" checked={alerts.own} onChange={(e) => put("own", e.target.checked)} /> This job has its own
        alert rules <span className="muted">(otherwise the tenant's defaults apply)</span>
      </label>
      {alerts.own && (
        <div className="grid2">
          <label>
            Alert on every failure
            <ChoiceSelect name="alerts.onFailure" value={alerts.onFailure} onChange={(v) => put("onFailure", v)} />
          </label>
          <label>
            Alert on a missed run
            <ChoiceSelect name="alerts.missedRun" value={alerts.missedRun} onChange={(v) => put("missedRun", v)} />
          </label>
          {text("consecutiveFailures", "Consecutive failures", "alert after this many in a row")}
          {text("maxDuration", "Longest run", "seconds; longer alerts")}
          {text("minDuration", "Shortest run", "seconds; shorter alerts")}
          <label>
            Channels <span className="muted">(names, comma-separated; empty: the default channels)</span>
            <input name="alerts.channels" value={alerts.channels} onChange={(e) => put("channels", e.target.value)} />
          </label>
          {text("ratePercent", "Failure rate", "percent of runs")}
          {text("rateWindow", "over a window", "seconds")}
          {text("rateMinRuns", "counting at least", "runs; default 3")}
        </div>
      )}
    </fieldset>
  );
}

export function JobFormPage({ id }: { id?: string }) {
  const { query } = useLocation();
  const existing = useQuery(JobQuery, { id: id ?? "" }, !id);
  const [form, setForm] = useState<JobForm>(() => emptyForm(query.get("namespace") ?? "default"));
  const [blobId, setBlobId] = useState<string | null>(null);
  useEffect(() => {
    const job = existing.data?.job;
    if (job && blobId === null) {
      setForm(formFromJob(job));
      setBlobId(job.blobId);
    }
  }, [existing.data, blobId]);

  const [mode, setMode] = useState<Mode>("form");
  const [yamlText, setYamlText] = useState("");
  const formYaml = useMemo(() => manifestYaml(form, id), [form, id]);
  const yaml = mode === "yaml" ? yamlText : formYaml;
  const settledYaml = useDebounced(yaml, 300);
  const settledSchedule = useDebounced({ schedule: form.schedule.trim(), timezone: form.timezone.trim() || "UTC" }, 200);
  const validation = useQuery(ValidateManifestQuery, { yaml: settledYaml }, mode === "form" ? !form.name && !form.command : !settledYaml.trim());
  const validated = validation.data?.validateManifest;
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

  const set = <K extends keyof JobForm>(key: K) =>
    (event: { target: { value: string; checked?: boolean; type?: string } }) =>
      setForm((f) => ({ ...f, [key]: event.target.type === "checkbox" ? event.target.checked : event.target.value }));

  const save = async (event: FormEvent, expectedBlobId: string | null = blobId) => {
    event.preventDefault();
    setBusy(true);
    setSaveError(null);
    setSaveProblems([]);
    try {
      const input = jobInput(form);
      const expected = expectedBlobId ?? "";
      const result =
        mode === "yaml"
          ? id
            ? (await request(UpdateJobFromManifestMutation, { id, expectedBlobId: expected, manifest: yamlText })).updateJob
            : (await request(CreateJobFromManifestMutation, { manifest: yamlText })).createJob
          : id
            ? (await request(UpdateJobMutation, { id, expectedBlobId: expected, input })).updateJob
            : (await request(CreateJobMutation, { input })).createJob;
      if (result.__typename === "Job") {
        navigate(`/jobs/${result.id}`);
        return;
      }
      if (result.__typename === "ConflictError" && id) {
        const current = await request(JobQuery, { id });
        if (current.job) setConflict({ theirs: current.job, message: result.message });
        else setSaveError(result.message);
        return;
      }
      if (result.__typename === "ValidationError") {
        setSaveProblems(result.fields.map((f) => ({ path: f.path.join("."), message: f.message })));
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
  const problems: Problem[] = (validated?.problems ?? []).filter((p) => !idLeftOut(p));
  const warnings: Problem[] = validated?.warnings ?? [];
  const schedule = preview.data?.schedulePreview;

  if (id && existing.loading && !existing.data) return <Loading when />;
  return (
    <>
      <header className="page-head">
        <h1>{id ? `Edit ${form.name}` : "New job"}</h1>
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
      <form className="card job-form" onSubmit={(e) => save(e)}>
        {mode === "yaml" ? (
          <label>
            Manifest
            <textarea
              name="manifest"
              className="mono manifest-editor"
              value={yamlText}
              onChange={(e) => setYamlText(e.target.value)}
              rows={Math.max(16, yamlText.split("\n").length + 2)}
              spellCheck={false}
              aria-invalid={problems.length > 0}
              aria-describedby="manifest-problems"
            />
          </label>
        ) : (
          <>
            <div className="grid2">
              <label>
                Name
                <input name="name" value={form.name} onChange={set("name")} required placeholder="backup-database" />
              </label>
              <label>
                Namespace
                <input name="namespace" value={form.namespace} onChange={set("namespace")} required />
              </label>
              <label>
                Schedule
                <input name="schedule" value={form.schedule} onChange={set("schedule")} required className="mono" />
              </label>
              <label>
                Time zone
                <input name="timezone" value={form.timezone} onChange={set("timezone")} placeholder="UTC" />
              </label>
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
              {schedule?.__typename === "ValidationError" && <span className="error">{schedule.message}</span>}
            </div>
            <label>
              Command
              <input name="command" value={form.command} onChange={set("command")} required className="mono" placeholder="/opt/scripts/backup.sh" />
            </label>
            <div className="grid2">
              <label>
                Arguments <span className="muted">(one per line)</span>
                <textarea name="args" value={form.args} onChange={set("args")} rows={3} className="mono" />
              </label>
              <label>
                Environment <span className="muted">(NAME=value per line)</span>
                <textarea name="env" value={form.env} onChange={set("env")} rows={3} className="mono" />
              </label>
              <label>
                Secrets <span className="muted">(NAME=secret-name per line; values from the Secrets page)</span>
                <textarea name="secretEnv" value={form.secretEnv} onChange={set("secretEnv")} rows={2} className="mono" placeholder="DB_PASSWORD=db-password" />
              </label>
              <label>
                Labels <span className="muted">(key=value per line)</span>
                <textarea name="labels" value={form.labels} onChange={set("labels")} rows={2} className="mono" />
              </label>
              <label>
                Target endpoint labels <span className="muted">(none: every endpoint)</span>
                <textarea name="targetLabels" value={form.targetLabels} onChange={set("targetLabels")} rows={2} className="mono" />
              </label>
              <label>
                Timeout <span className="muted">(seconds)</span>
                <input name="timeout" value={form.timeout} onChange={set("timeout")} inputMode="numeric" />
              </label>
              <label>
                Grace time <span className="muted">(seconds)</span>
                <input name="graceTime" value={form.graceTime} onChange={set("graceTime")} inputMode="numeric" />
              </label>
              <label>
                Concurrency
                <select name="concurrency" value={form.concurrency} onChange={set("concurrency")}>
                  <option value="ALLOW">allow overlapping runs</option>
                  <option value="FORBID">forbid overlapping runs</option>
                </select>
              </label>
              <div className="checks">
                <label className="check">
                  <input type="checkbox" name="enabled" checked={form.enabled} onChange={set("enabled")} /> Enabled
                </label>
                <label className="check">
                  <input type="checkbox" name="paused" checked={form.paused} onChange={set("paused")} /> Paused
                </label>
              </div>
            </div>
            <AlertRules alerts={form.alerts} onChange={(alerts) => setForm((f) => ({ ...f, alerts }))} />
            <fieldset>
              <legend>Native schedulers</legend>
              <label className="check">
                <input type="checkbox" name="systemdAcceptDst" checked={form.systemdAcceptDst} onChange={set("systemdAcceptDst")} /> systemd may
                install it where its clock-change handling differs from cron's
              </label>
              <label className="check">
                <input type="checkbox" name="taskSchedulerAcceptDst" checked={form.taskSchedulerAcceptDst} onChange={set("taskSchedulerAcceptDst")} />{" "}
                Task Scheduler may install it where its clock-change handling differs from cron's
              </label>
            </fieldset>
          </>
        )}
        <div className="validation" id="manifest-problems" data-testid="validation" aria-live="polite">
          {validated && problems.length === 0 && <span className="ok-text">✓ Valid manifest</span>}
          {problems.map((p, i) => (
            <div key={i} className="error">
              <code>{p.path}</code>: {p.message}
            </div>
          ))}
          {warnings.map((w, i) => (
            <div key={`w${i}`} className="warning" data-testid="manifest-warning">
              ⚠ <code>{w.path}</code>: {w.message}
            </div>
          ))}
          {saveProblems.map((p, i) => (
            <div key={`s${i}`} className="error">
              <code>{p.path}</code>: {p.message}
            </div>
          ))}
        </div>
        <ErrorNote error={saveError} />
        <button className="button primary" disabled={busy}>
          {id ? "Save changes" : "Create job"}
        </button>
      </form>
    </>
  );
}
