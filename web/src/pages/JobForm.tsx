// Create and edit a job: validated as you type by the server's own validator, with a live
// schedule preview; a save that meets someone else's change shows it instead of overwriting.
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { request } from "../api/client";
import { useDebounced, useQuery } from "../api/hooks";
import {
  CreateJobMutation,
  JobQuery,
  SchedulePreviewQuery,
  UpdateJobMutation,
  ValidateManifestQuery,
} from "../api/operations";
import { ErrorNote, Loading } from "../components/bits";
import { DiffView } from "../components/code";
import type { JobFieldsFragment } from "../gql/graphql";
import { formatTime } from "../lib/format";
import { emptyForm, formFromJob, jobInput, manifestYaml, type JobForm } from "../lib/manifest";
import { Link, navigate, useLocation } from "../router";

type Problem = { path: string; message: string };
type Conflict = { theirs: JobFieldsFragment; message: string };

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

  const yaml = useMemo(() => manifestYaml(form, id), [form, id]);
  const settledYaml = useDebounced(yaml, 300);
  const settledSchedule = useDebounced({ schedule: form.schedule.trim(), timezone: form.timezone.trim() || "UTC" }, 200);
  const validation = useQuery(ValidateManifestQuery, { yaml: settledYaml }, !form.name && !form.command);
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
      const result = id
        ? (await request(UpdateJobMutation, { id, expectedBlobId: expectedBlobId ?? "", input })).updateJob
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

  const problems: Problem[] = validation.data?.validateManifest.problems ?? [];
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
      <form className="card job-form" onSubmit={(e) => save(e)}>
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
        <div className="validation" data-testid="validation" aria-live="polite">
          {validation.data?.validateManifest.valid && problems.length === 0 && <span className="ok-text">✓ Valid manifest</span>}
          {problems.map((p, i) => (
            <div key={i} className="error">
              <code>{p.path}</code>: {p.message}
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
