// "Is my job late?" in a real browser: six jobs in each status, reported over plain HTTP and
// judged by the server's own alert cycle, shown on the jobs list (sortable), the job page
// (with its check-in URL and curl snippet), the dashboard ("Needs attention", worst first),
// the health page and the run log's MISSED filter. Screenshots in test-artifacts/.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { join } from "node:path";
import { checkinToken, graphql, launchBrowser, login, noBrowser, registeredPage, screenshotDir, startServer } from "./support.mjs";

let server;
let chromium;
let context;
let page;
let api; // an API session of the same user, apart from the browser's
const jobs = {}; // name -> id
const pageErrors = [];

const CREATE = `mutation($input: JobInput!) { createJob(input: $input) {
  __typename ... on Job { id } ... on UserError { message } } }`;

async function createJob(name, input = {}) {
  const data = await graphql(server.url, api, CREATE, {
    input: { name, schedule: "0 3 * * *", command: `/opt/${name}.sh`, ...input },
  });
  assert.equal(data.createJob.__typename, "Job", JSON.stringify(data.createJob));
  jobs[name] = data.createJob.id;
}

/** Report a finished run that started `secondsAgo` ago, as a cron one-liner would. */
async function report(token, name, exitCode, secondsAgo = 2) {
  const started = new Date(Date.now() - secondsAgo * 1000).toISOString();
  const rid = crypto.randomUUID();
  const url = `${server.url}/checkin/${jobs[name]}/${exitCode}?rid=${rid}&duration=1.5&started=${encodeURIComponent(started)}`;
  const response = await fetch(url, { method: "POST", headers: { Authorization: `Bearer ${token}` }, body: "done\n" });
  assert.ok(response.ok, `check-in refused: ${response.status} ${await response.text()}`);
}

async function statusOf(name) {
  const data = await graphql(server.url, api, "query($id: UUID!) { job(id: $id) { status } }", { id: jobs[name] });
  return data.job.status;
}

/** Poll until `check()` is truthy (the alert cycle runs every second in these tests). */
async function eventually(check, within = 20_000) {
  const deadline = Date.now() + within;
  for (;;) {
    const result = await check();
    if (result) return result;
    if (Date.now() > deadline) throw new Error(`not within ${within} ms: ${check}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("job status in the console", { skip: noBrowser }, () => {
  before(async () => {
    server = await startServer();
    chromium = await launchBrowser();
    ({ context, page } = await registeredPage(chromium.browser, server.url, "carol", pageErrors));
    api = await login(server.url, "carol");
    const token = await checkinToken(server.url, api);

    await createJob("fresh");
    await createJob("healthy");
    await report(token, "healthy", 0);
    await createJob("broken");
    await report(token, "broken", 3);
    await createJob("resting", { paused: true });
    // Every minute, ten minutes of grace, last started two minutes ago: late, not yet missed.
    await createJob("overdue", { schedule: "* * * * *", graceTime: 600 });
    await report(token, "overdue", 0, 120);
    // Every minute with 30 s of grace, last started 100 s ago: the cycle finds the next fire
    // time missed once its grace ends (within a minute and a half).
    await createJob("gone", { schedule: "* * * * *", graceTime: 30 });
    await report(token, "gone", 0, 100);
    await eventually(async () => (await statusOf("gone")) === "DOWN", 120_000);
  });

  after(async () => {
    await context?.close();
    await chromium?.close();
    await server?.stop();
  });

  test("the jobs list shows each job's status, last run and next run, sorted worst first", async () => {
    await page.goto(`${server.url}/jobs`);
    await page.waitForSelector("[data-testid=jobs-table] tbody tr[data-job-status]");
    const rows = await page.$$eval("[data-testid=jobs-table] tbody tr[data-job-status]", (trs) =>
      trs.map((tr) => [tr.querySelector("td:nth-child(2) a").textContent, tr.dataset.jobStatus]),
    );
    assert.deepEqual(rows, [
      ["gone", "DOWN"],
      ["broken", "FAILING"],
      ["overdue", "LATE"],
      ["fresh", "NEW"],
      ["healthy", "UP"],
      ["resting", "PAUSED"],
    ]);
    const healthy = page.locator("tr", { has: page.locator("a", { hasText: /^healthy$/ }) });
    assert.match(await healthy.textContent(), /at 03:00 every day, UTC/);
    assert.match(await healthy.locator("td:nth-child(6)").textContent(), /SUCCESS/);
    assert.match(await healthy.locator("td:nth-child(7)").textContent(), /\d{4}-\d{2}-\d{2} 03:00:00/);
    await page.click("[data-testid=sort-name]");
    const byName = await page.$$eval("[data-testid=jobs-table] tbody tr[data-job-status] td:nth-child(2) a", (as) =>
      as.map((a) => a.textContent),
    );
    assert.deepEqual(byName, ["broken", "fresh", "gone", "healthy", "overdue", "resting"]);
    const dir = screenshotDir();
    for (const scheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.screenshot({ path: join(dir, `status-jobs-${scheme}.png`), fullPage: true });
    }
    await page.emulateMedia({ colorScheme: "light" });
  });

  test("the job page shows its status, schedule in words, and how to check in with curl", async () => {
    await page.goto(`${server.url}/jobs/${jobs.broken}`);
    await page.waitForSelector("[data-testid=job-status]:has-text('FAILING')");
    assert.match(await page.textContent("[data-testid=job-summary]"), /at 03:00 every day, UTC · last run .* \(failure\)/);
    assert.equal(await page.textContent("[data-testid=checkin-url]"), `${server.url}/checkin/${jobs.broken}`);
    const snippet = await page.textContent("[data-testid=checkin] pre");
    assert.match(snippet, new RegExp(`curl -fsS -X POST .*"${server.url}/checkin/${jobs.broken}/start\\?rid=\\$rid"`));
    assert.match(snippet, /\/opt\/broken\.sh; code=\$\?/);
    await page.screenshot({ path: join(screenshotDir(), "status-job-light.png"), fullPage: true });
    await page.goto(`${server.url}/jobs/${jobs.gone}`);
    await page.waitForSelector("[data-testid=job-status]:has-text('DOWN')");
    // The missed fire time is in the job's run history.
    await page.waitForSelector("[data-testid=runs-table] .badge:has-text('MISSED')");
  });

  test("the dashboard lists what needs attention first, worst first, and health says the same", async () => {
    await page.goto(`${server.url}/`);
    await page.waitForSelector("[data-testid=needs-attention] li");
    const listed = await page.$$eval("[data-testid=needs-attention] li", (lis) => lis.map((li) => li.dataset.jobStatus));
    assert.deepEqual(listed, ["DOWN", "FAILING", "LATE"]);
    // "Needs attention" comes before everything else on the page.
    const first = await page.$eval("main section", (section) => section.dataset.testid);
    assert.equal(first, "needs-attention");
    const dir = screenshotDir();
    await page.screenshot({ path: join(dir, "status-dashboard-light.png"), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.emulateMedia({ colorScheme: "dark" });
    await page.screenshot({ path: join(dir, "status-dashboard-phone-dark.png"), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.emulateMedia({ colorScheme: "light" });

    await page.goto(`${server.url}/health-report`);
    const gone = page.locator("tr", { has: page.locator("a", { hasText: /^gone$/ }) });
    await gone.locator(".badge:has-text('DOWN')").waitFor();
    // The missed run counts as a failed expected run.
    assert.ok(Number(await gone.locator("td:nth-child(5)").textContent()) >= 1);
    await page.screenshot({ path: join(dir, "status-health-light.png"), fullPage: true });
    assert.deepEqual(pageErrors, []);
  });
});
