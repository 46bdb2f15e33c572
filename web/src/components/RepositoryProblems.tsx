// What is wrong in the tenant's job repository, above the jobs: a commit that was not adopted
// (with an external Git store the forge's tip waits until its problems are fixed, and the
// console, the API and agents keep the last valid commit) and files that are not valid jobs.
import type { ReactNode } from "react";
import { useQuery } from "../api/hooks";
import { RepositoryProblemsQuery } from "../api/operations";
import { shortCommit } from "../lib/format";

export type RepositoryProblem = { file?: string | null; path: string; message: string };

/** Problems listed before the rest fold away under "more": a broken import can name hundreds. */
export const SHOWN_PROBLEMS = 10;

function ProblemLine({ problem }: { problem: RepositoryProblem }) {
  return (
    <li>
      <code>{problem.file}</code>
      {problem.path ? (
        <>
          {" "}
          <code className="muted">{problem.path}</code>
        </>
      ) : null}
      : {problem.message}
    </li>
  );
}

/** The banner itself, from what the API answered; nothing when all is well. */
export function RepositoryProblemsBanner({
  problems,
  headCommit,
  pendingCommit,
  onCheckAgain,
  checking = false,
}: {
  problems: readonly RepositoryProblem[];
  headCommit?: string | null;
  pendingCommit?: string | null;
  onCheckAgain?: () => void;
  checking?: boolean;
}) {
  if (problems.length === 0 && !pendingCommit) return null;
  // Lines without a file are about the repository as a whole (the forge's tip and where it
  // lives, a forge that cannot be reached); the others name what to fix.
  const notes = problems.filter((p) => !p.file);
  const files = problems.filter((p) => p.file);
  const shown = files.slice(0, SHOWN_PROBLEMS);
  const folded = files.slice(SHOWN_PROBLEMS);
  const count = files.length === 1 ? "1 problem" : `${files.length} problems`;
  let headline: ReactNode = files.length ? `The repository has ${count}` : "The repository cannot be read";
  let lead = files.length
    ? "These files are left out: the jobs they hold are not served, the other jobs are."
    : "The jobs are served as they were last read.";
  if (pendingCommit) {
    headline = (
      <>
        The repository's latest commit{" "}
        <code data-testid="pending-commit" title={pendingCommit}>
          {shortCommit(pendingCommit)}
        </code>{" "}
        was not adopted
      </>
    );
    const served = headCommit ? `commit ${shortCommit(headCommit)}` : "the last valid commit";
    lead = `Crontopus keeps serving ${served} to this console and to agents, and refuses changes made here until ${files.length === 1 ? "the problem below is" : `the ${count} below are`} fixed.`;
  }
  return (
    <section className="banner repository-problems" role="alert" aria-labelledby="repository-problems-title" data-testid="repository-problems">
      <h2 id="repository-problems-title">{headline}</h2>
      <p>{lead}</p>
      {notes.map((note, index) => (
        <p key={index} className="small" data-testid="repository-note">
          {note.message}
        </p>
      ))}
      {shown.length > 0 && (
        <ul className="problems">
          {shown.map((problem, index) => (
            <ProblemLine key={index} problem={problem} />
          ))}
        </ul>
      )}
      {folded.length > 0 && (
        <details>
          <summary>{folded.length} more</summary>
          <ul className="problems">
            {folded.map((problem, index) => (
              <ProblemLine key={index} problem={problem} />
            ))}
          </ul>
        </details>
      )}
      <p>
        {files.length ? (
          <>
            <strong>To fix it,</strong> correct these files in a clone of the repository, commit, and push the fix to the repository.
            {pendingCommit ? " Crontopus adopts the first commit that passes at its next fetch (at once when the forge's webhook calls)." : ""}
          </>
        ) : (
          "Crontopus tries again at its next fetch."
        )}
      </p>
      {onCheckAgain && (
        <button type="button" className="button small" onClick={onCheckAgain} disabled={checking}>
          {checking ? "Checking…" : "Check again"}
        </button>
      )}
    </section>
  );
}

/** The banner with its data: shown on the jobs list and on a job's page. */
export function RepositoryProblems() {
  const { data, loading, reload } = useQuery(RepositoryProblemsQuery, {});
  if (!data) return null;
  return (
    <RepositoryProblemsBanner
      problems={data.repositoryProblems}
      headCommit={data.repository.headCommit}
      pendingCommit={data.repository.pendingCommit}
      onCheckAgain={reload}
      checking={loading}
    />
  );
}
