// The getting-started checklist of an empty dashboard: each step ticked from real data.

export type Step = { key: "job" | "agent" | "run"; label: string; href: string; hint: string; done: boolean };

/** The three first steps, done or not, from what the tenant has. */
export function gettingStarted(facts: { jobs: number; endpoints: number; runs: number }): Step[] {
  return [
    { key: "job", label: "Create a job", href: "/jobs/new", hint: "a command, a schedule and a name", done: facts.jobs > 0 },
    { key: "agent", label: "Install an agent", href: "/install", hint: "one line on each machine that runs jobs", done: facts.endpoints > 0 },
    {
      key: "run",
      label: "See the first run",
      href: "/runs",
      hint: "from an agent, or from a script's check-in (each job's page has the curl line)",
      done: facts.runs > 0,
    },
  ];
}
