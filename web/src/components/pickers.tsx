// Pickers for the things forms refer to: a job by name (autocompleted from the server's search)
// and a namespace (from the tenant's list), so a typed name can never mean something else.
import { useId } from "react";
import { useDebounced, useQuery } from "../api/hooks";
import { JobNamesQuery, NamespacesQuery } from "../api/operations";

export type JobChoice = { id: string; name: string; namespace: string };

/** A text field that suggests job names matching what is typed so far (any part of the name). */
export function JobNameInput({
  name,
  value,
  onChange,
  label,
  placeholder = "Job name",
  invalid,
}: {
  name?: string;
  value: string;
  onChange: (value: string, job: JobChoice | null) => void;
  label: string;
  placeholder?: string;
  invalid?: Record<string, unknown>;
}) {
  const list = useId();
  const search = useDebounced(value.trim(), 200);
  const { data } = useQuery(JobNamesQuery, { search: search || null });
  const jobs = data?.jobs.nodes ?? [];
  return (
    <>
      <input
        name={name}
        value={value}
        list={list}
        autoComplete="off"
        placeholder={placeholder}
        aria-label={label}
        onChange={(e) => onChange(e.target.value, jobs.find((j) => j.name === e.target.value) ?? null)}
        {...invalid}
      />
      <datalist id={list} data-testid="job-suggestions">
        {jobs.map((job) => (
          <option key={job.id} value={job.name}>
            {job.namespace}
          </option>
        ))}
      </datalist>
    </>
  );
}

/** The tenant's namespaces as a select; `empty` labels the choice of none. */
export function NamespaceSelect({
  name,
  value,
  onChange,
  label,
  empty,
}: {
  name?: string;
  value: string;
  onChange: (value: string) => void;
  label: string;
  empty?: string;
}) {
  const { data } = useQuery(NamespacesQuery, {});
  return (
    <select name={name} value={value} onChange={(e) => onChange(e.target.value)} aria-label={label}>
      {empty !== undefined && <option value="">{empty}</option>}
      {data?.namespaces.map((ns) => (
        <option key={ns.name}>{ns.name}</option>
      ))}
    </select>
  );
}
