// The secret store: names and who changed them when; values go in and never come back out.
import { useState, type FormEvent } from "react";
import { request } from "../api/client";
import { useQuery } from "../api/hooks";
import { DeleteSecretMutation, SecretsQuery, SetSecretMutation } from "../api/operations";
import { ErrorNote } from "../components/bits";
import { formatAgo, formatTime } from "../lib/format";
import { mutationProblem, type MutationAnswer } from "../lib/mutationErrors";

const failure = (result: MutationAnswer, what: string): string | null => mutationProblem(result, `${what} failed`);

export function SecretsPage() {
  const { data, error, reload } = useQuery(SecretsQuery, {});
  const [problem, setProblem] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const save = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const target = event.currentTarget;
    const form = new FormData(target);
    const name = String(form.get("name")).trim();
    const result = (await request(SetSecretMutation, { name, value: String(form.get("value")) })).setSecret;
    const refused = failure(result, "Saving the secret");
    setProblem(refused);
    setSaved(refused ? null : name);
    if (!refused) target.reset();
    reload();
  };
  const remove = async (name: string) => {
    if (!confirm(`Delete secret ${name}? Jobs that reference it fail to run until it is set again.`)) return;
    setProblem(failure((await request(DeleteSecretMutation, { name })).deleteSecret, "Deleting the secret"));
    setSaved(null);
    reload();
  };
  return (
    <>
      <header className="page-head">
        <h1>Secrets</h1>
      </header>
      <p className="muted">
        Values jobs read when they run, kept out of Git. Reference one in a manifest with{" "}
        <code>{"env: [{name: DB_PASSWORD, secretRef: db-password}]"}</code>; a new value applies from the next run. Values are never shown again.
      </p>
      <ErrorNote error={error ?? problem} />
      {saved && (
        <p className="ok-text" role="status">
          ✓ Secret {saved} saved
        </p>
      )}
      <form className="card filters" onSubmit={save} aria-label="Set a secret">
        <input name="name" placeholder="db-password" required maxLength={63} pattern="[A-Za-z0-9][A-Za-z0-9._\-]*" aria-label="Secret name" title="letters, digits, '.', '_' or '-', starting with a letter or digit" />
        <textarea name="value" placeholder="Value" required rows={1} aria-label="Secret value" autoComplete="off" spellCheck={false} />
        <button className="button primary">Set secret</button>
      </form>
      <section className="card">
        <div className="table-wrap" tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>Updated</th>
                <th>By</th>
                <th>Created</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {data?.secrets.map((s) => (
                <tr key={s.name}>
                  <td>
                    <code>{s.name}</code>
                  </td>
                  <td>{formatAgo(s.updatedAt)}</td>
                  <td>{s.updatedBy}</td>
                  <td className="nowrap">{formatTime(s.createdAt)}</td>
                  <td>
                    <button className="button small danger" onClick={() => remove(s.name)} aria-label={`Delete secret ${s.name}`}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
              {data && data.secrets.length === 0 && (
                <tr>
                  <td colSpan={5} className="muted">
                    No secrets yet.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}
