// An endpoint's labels, editable by owners and admins: add key=value, remove one with ×. Each
// change is saved at once through updateEndpoint; the agent picks the labels up with its next
// heartbeat, and the jobs they target follow.
import { useState, type FormEvent } from "react";
import { request } from "../api/client";
import { UpdateEndpointLabelsMutation } from "../api/endpointOperations";
import { failureText } from "../lib/mutationErrors";
import { ErrorNote } from "./bits";

type Label = { key: string; value: string };

/** "key=value" as a label, or why it is not one. */
export function parseLabel(text: string): Label | string {
  const at = text.indexOf("=");
  if (at <= 0) return "write a label as key=value, for example role=db";
  return { key: text.slice(0, at).trim(), value: text.slice(at + 1).trim() };
}

export function LabelEditor({ endpointId, labels, canEdit, onSaved }: { endpointId: string; labels: Label[]; canEdit: boolean; onSaved: (labels: Label[]) => void }) {
  const [text, setText] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  const save = async (next: Label[]) => {
    setSaving(true);
    setProblem(null);
    try {
      const result = (await request(UpdateEndpointLabelsMutation, { id: endpointId, labels: next })).updateEndpoint;
      if (result.__typename === "Endpoint") {
        onSaved(result.labels);
        return true;
      }
      setProblem(failureText(result, "The labels could not be saved"));
      return false;
    } catch (error) {
      setProblem((error as Error).message);
      return false;
    } finally {
      setSaving(false);
    }
  };

  const add = async (event: FormEvent) => {
    event.preventDefault();
    const label = parseLabel(text);
    if (typeof label === "string") return setProblem(label);
    // Setting a key that exists replaces its value, as `crontopus endpoints label` does.
    if (await save([...labels.filter((l) => l.key !== label.key), label])) setText("");
  };

  return (
    <div className="label-editor" data-testid="label-editor">
      <ul className="plain row" aria-label="Labels">
        {labels.map((l) => (
          <li key={l.key} className="chip">
            {l.key}={l.value}
            {canEdit && (
              <button type="button" className="link chip-remove" aria-label={`Remove label ${l.key}`} disabled={saving} onClick={() => save(labels.filter((other) => other.key !== l.key))}>
                ×
              </button>
            )}
          </li>
        ))}
        {labels.length === 0 && <li className="muted">none</li>}
      </ul>
      {canEdit && (
        <form className="row" onSubmit={add}>
          <input value={text} onChange={(e) => setText(e.target.value)} placeholder="key=value" aria-label="New label" required />
          <button className="button small" disabled={saving}>
            Add label
          </button>
        </form>
      )}
      <ErrorNote error={problem} />
    </div>
  );
}
