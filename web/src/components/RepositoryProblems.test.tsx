import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RepositoryProblemsBanner, SHOWN_PROBLEMS, type RepositoryProblem } from "./RepositoryProblems";

afterEach(cleanup);

const SERVED = "1111111111111111111111111111111111111111";
const PENDING = "abcdef0123456789abcdef0123456789abcdef01";
// What the server answers for a forge tip it did not adopt: a first line about the tip, then
// every problem of the tip with its file and field.
const REFUSED: RepositoryProblem[] = [
  {
    file: null,
    path: "",
    message: `https://forge.example/ops/acme.git: its main branch is at ${PENDING.slice(0, 12)}, which Crontopus does not serve because of the problems below (serving ${SERVED.slice(0, 12)}); fix them and push again`,
  },
  { file: "default/db.yaml", path: "spec.schedule", message: '"5/15 * * * *" is not valid cron (a step needs a range or *: use "5-59/15")' },
  { file: "default/copy.yml", path: "", message: "manifests end in .yaml: rename it to copy.yaml" },
];

describe("RepositoryProblemsBanner", () => {
  it("is not there when the repository has no problems", () => {
    const { container } = render(<RepositoryProblemsBanner problems={[]} headCommit={SERVED} pendingCommit={null} />);
    expect(container.innerHTML).toBe("");
  });

  it("says which commit was not adopted, which one is served, every problem and the fix", () => {
    render(<RepositoryProblemsBanner problems={REFUSED} headCommit={SERVED} pendingCommit={PENDING} />);
    const banner = screen.getByRole("alert");
    const heading = within(banner).getByRole("heading", { level: 2 });
    expect(heading.textContent).toBe("The repository's latest commit abcdef01 was not adopted");
    expect(within(banner).getByTestId("pending-commit").getAttribute("title")).toBe(PENDING);
    expect(banner.textContent).toContain("keeps serving commit 11111111");
    expect(banner.textContent).toContain("until the 2 problems below are fixed");
    // The line about the forge's tip says where the repository lives; the list is what to fix.
    expect(within(banner).getByTestId("repository-note").textContent).toBe(REFUSED[0].message);
    const items = within(banner).getAllByRole("listitem").map((li) => li.textContent);
    expect(items).toEqual([
      'default/db.yaml spec.schedule: "5/15 * * * *" is not valid cron (a step needs a range or *: use "5-59/15")',
      "default/copy.yml: manifests end in .yaml: rename it to copy.yaml",
    ]);
    expect(banner.textContent).toContain("commit, and push the fix to the repository");
    expect(banner.textContent).toContain("adopts the first commit that passes");
  });

  it("names broken files at the served commit without speaking of a commit left out", () => {
    render(<RepositoryProblemsBanner problems={REFUSED.slice(1, 2)} headCommit={SERVED} pendingCommit={null} />);
    expect(screen.getByRole("heading").textContent).toBe("The repository has 1 problem");
    expect(screen.getByRole("alert").textContent).not.toContain("adopt");
    expect(screen.getByRole("alert").textContent).toContain("These files are left out");
  });

  it("says when the forge cannot be reached and the jobs are served from the last fetch", () => {
    const away = { file: null, path: "", message: "fetching https://forge.example/ops/acme.git failed: 502; jobs are served from the last fetch" };
    render(<RepositoryProblemsBanner problems={[away]} headCommit={SERVED} pendingCommit={null} />);
    expect(screen.getByRole("heading").textContent).toBe("The repository cannot be read");
    expect(screen.getByTestId("repository-note").textContent).toBe(away.message);
    expect(screen.queryByRole("list")).toBeNull();
    expect(screen.getByRole("alert").textContent).toContain("tries again at its next fetch");
  });

  it("folds the problems after the first ten away", () => {
    const many = Array.from({ length: SHOWN_PROBLEMS + 5 }, (_, i) => ({ file: `default/job-${i}.yaml`, path: "spec.command", message: "is missing" }));
    const { container } = render(<RepositoryProblemsBanner problems={many} pendingCommit={PENDING} />);
    expect(container.querySelectorAll("section > ul > li")).toHaveLength(SHOWN_PROBLEMS);
    expect(container.querySelectorAll("details li")).toHaveLength(5);
    expect(screen.getByText("5 more").tagName).toBe("SUMMARY");
    // No served commit yet: the sentence still reads.
    expect(screen.getByRole("alert").textContent).toContain("keeps serving the last valid commit");
  });

  it("checks again on request, and not twice at once", () => {
    const check = vi.fn();
    const { rerender } = render(<RepositoryProblemsBanner problems={REFUSED} pendingCommit={PENDING} onCheckAgain={check} />);
    fireEvent.click(screen.getByRole("button", { name: "Check again" }));
    expect(check).toHaveBeenCalledTimes(1);
    rerender(<RepositoryProblemsBanner problems={REFUSED} pendingCommit={PENDING} onCheckAgain={check} checking />);
    expect((screen.getByRole("button", { name: "Checking…" }) as HTMLButtonElement).disabled).toBe(true);
  });
});
