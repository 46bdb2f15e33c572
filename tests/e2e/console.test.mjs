// The web console in a real browser against a real server: register, create a job with the
// form, see it in the list and in Git history, report runs over HTTP and watch them arrive
// live, use the offline playground, and screenshot every page in light and dark mode. The
// console keeps no token in localStorage and runs under the server's Content-Security-Policy:
// any violation the page reports fails the run.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { graphql, launchBrowser, login, noBrowser, PASSWORD, postCheckIn, register, ROOT, screenshotDir, startServer } from "./support.mjs";

let server;
let chromium;
let context;
let page;
let jobId;
let token; // an API token with the CHECKIN scope
let endpointToken; // the enrolled endpoint's own token
const foreignRequests = [];
const pageErrors = [];
const cspViolations = [];
let apiToken; // alice's own API session for the test's direct GraphQL calls

// The console's tokens are out of reach of page scripts (and so of this test): it talks to the
// API with a session of its own.
async function accessToken() {
  apiToken ??= await login(server.url, "alice");
  return apiToken;
}

// The refresh cookie as the browser holds it.
async function refreshCookie() {
  return (await context.cookies(server.url + "/auth/refresh")).find((c) => c.name === "crontopus_refresh");
}

/** Change a member's role in the server's SQLite database, behind the server's back. */
function setRole(dataDir, username, role) {
  const sql = "UPDATE memberships SET role = ? WHERE user_id = (SELECT id FROM users WHERE username = ?)";
  const script = `import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.execute(${JSON.stringify(sql)}, (sys.argv[2], sys.argv[3]))\nc.commit()`;
  const done = spawnSync(join(ROOT, ".venv/bin/python"), ["-c", script, join(dataDir, "crontopus.db"), role, username]);
  assert.equal(done.status, 0, String(done.stderr));
}

// Run in the page: the status badges whose text falls short of WCAG AA (4.5:1) against their own
// background, as the browser computed both.
function badgesBelowContrast() {
  const luminance = (rgb) => {
    const [r, g, b] = rgb.match(/\d+(\.\d+)?/g).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  return [...document.querySelectorAll(".badge")].flatMap((badge) => {
    const style = getComputedStyle(badge);
    const [hi, lo] = [luminance(style.color), luminance(style.backgroundColor)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    return ratio >= 4.5 ? [] : [`${badge.className} "${badge.textContent}": ${ratio.toFixed(2)}`];
  });
}

async function open(path) {
  await page.goto(server.url + path);
}

// A laptop without Chromium skips these; CI names the browser, so there a missing one fails.
describe("the web console", { skip: noBrowser }, () => {
  before(async () => {
    server = await startServer();
    chromium = await launchBrowser();
    context = await chromium.browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: "light" });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    // Air-gapped sites: the console must never reach beyond its own server.
    page.on("request", (request) => {
      const url = request.url();
      if (!url.startsWith(server.url) && !url.startsWith("ws://127.0.0.1") && !url.startsWith("data:")) foreignRequests.push(url);
    });
    page.on("pageerror", (error) => pageErrors.push(error.message));
    // Every document reports what the Content-Security-Policy blocked.
    await context.exposeBinding("reportCspViolation", (_source, violation) => cspViolations.push(violation));
    await context.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (event) => {
        window.reportCspViolation(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} in ${event.documentURI}`);
      });
    });
  });

  after(async () => {
    await context?.close();
    await chromium?.close();
    await server?.stop();
  });

  test("a new user registers and lands on a live dashboard", async () => {
    await open("/");
    await page.waitForURL(/\/login/);
    await page.click("text=Register");
    await page.fill("input[name=username]", "alice");
    await page.fill("input[name=email]", "alice@example.com");
    await page.fill("input[name=password]", PASSWORD);
    await page.click("button:has-text('Register')");
    await page.waitForSelector("h1:has-text('Dashboard')");
    await page.waitForSelector("[data-testid=live-indicator]:has-text('Live')");
  });

  test("the job form validates as one types and creates the job", async () => {
    await open("/jobs/new");
    await page.fill("input[name=name]", "nightly-backup");
    await page.fill("input[name=command]", "/opt/scripts/backup.sh");
    await page.fill("input[name=schedule]", "5/15 * * * *");
    await page.waitForSelector("[data-testid=field-error][data-field=schedule]");
    await page.fill("input[name=schedule]", "0 2 * * *");
    await page.fill("input[name=timezone]", "Europe/Berlin");
    await page.waitForSelector("[data-testid=validation]:has-text('Valid manifest')");
    await page.waitForSelector("[data-testid=schedule-preview] .chip");
    await page.click("button:has-text('Create job')");
    await page.waitForSelector("h1:has-text('nightly-backup')");
    jobId = page.url().split("/").pop();
    assert.match(jobId, /^[0-9a-f-]{36}$/);
    const yaml = await page.textContent("[data-testid=yaml]");
    assert.match(yaml, /schedule: "?0 2 \* \* \*"?/);
    assert.equal(await page.locator("[data-testid=next-runs] li").count(), 5);
    assert.equal(await page.locator("[data-testid=history] li").count(), 1);
  });

  test("the job appears in the list and an edit shows up in Git history with its diff", async () => {
    await open("/jobs");
    await page.waitForSelector("[data-testid=jobs-table] a:has-text('nightly-backup')");
    await page.click("[data-testid=jobs-table] a:has-text('nightly-backup')");
    await page.click("a:has-text('Edit')");
    await page.waitForSelector("input[name=schedule]");
    await page.waitForFunction(() => document.querySelector("input[name=schedule]")?.value === "0 2 * * *");
    await page.fill("input[name=schedule]", "30 3 * * *");
    await page.waitForSelector("[data-testid=validation]:has-text('Valid manifest')");
    await page.click("button:has-text('Save changes')");
    await page.waitForSelector("[data-testid=history] li >> nth=1");
    assert.equal(await page.locator("[data-testid=history] li").count(), 2);
    const diff = await page.textContent("[data-testid=diff]");
    assert.match(diff, /-\s*schedule: "?0 2/);
    assert.match(diff, /\+\s*schedule: "?30 3/);
  });

  test("an edit that meets someone else's change shows their version instead of overwriting", async () => {
    await open(`/jobs/${jobId}/edit`);
    await page.waitForFunction(() => document.querySelector("input[name=schedule]")?.value === "30 3 * * *");
    const api = await accessToken();
    const current = await graphql(server.url, api, `query($id: UUID!) { job(id: $id) { blobId } }`, { id: jobId });
    await graphql(
      server.url,
      api,
      `mutation($id: UUID!, $blob: String!) { updateJob(id: $id, expectedBlobId: $blob, input: {
        name: "nightly-backup", schedule: "45 4 * * *", command: "/opt/scripts/backup.sh", timezone: "Europe/Berlin" }) { __typename } }`,
      { id: jobId, blob: current.job.blobId },
    );
    await page.fill("input[name=command]", "/opt/scripts/backup.sh --full");
    await page.click("button:has-text('Save changes')");
    const conflict = await page.waitForSelector("[data-testid=conflict]");
    assert.match(await conflict.textContent(), /45 4 \* \* \*/);
    await page.click("button:has-text('Discard mine, edit theirs')");
    await page.waitForFunction(() => document.querySelector("input[name=schedule]")?.value === "45 4 * * *");
  });

  test("no token is kept in localStorage, and a reload keeps the user logged in, live socket included", async () => {
    await open("/runs");
    await page.waitForSelector("[data-testid=live-indicator]:has-text('Live')");
    const stored = await page.evaluate(() => Object.fromEntries(Object.entries(localStorage)));
    assert.deepEqual(Object.keys(stored).filter((key) => key !== "crontopus.theme"), []);
    assert.doesNotMatch(JSON.stringify(stored), /ctr_|eyJ/);
    const before = await refreshCookie();
    assert.equal(before.httpOnly, true);
    assert.equal(before.sameSite, "Strict");
    assert.equal(before.path, "/auth/refresh");
    assert.equal(before.secure, false, "plain http: Secure only under https");
    assert.equal(await page.evaluate(() => document.cookie.includes("crontopus_refresh")), false);
    await page.reload();
    await page.waitForSelector("h1:has-text('Run log')");
    await page.waitForSelector("[data-testid=live-indicator]:has-text('Live')");
    assert.match(page.url(), /\/runs$/);
    assert.notEqual((await refreshCookie()).value, before.value, "the refresh cookie rotated");
  });

  test("the refresh path refuses a request from another origin", async () => {
    const answer = await page.evaluate(async () => {
      const response = await fetch("/auth/refresh", { method: "POST" });
      return response.status;
    });
    assert.equal(answer, 200, "the console's own origin may refresh");
    const cookie = await refreshCookie();
    const foreign = await fetch(`${server.url}/auth/refresh`, {
      method: "POST",
      headers: { Origin: "https://evil.example", Cookie: `crontopus_refresh=${cookie.value}` },
    });
    assert.equal(foreign.status, 403);
  });

  test("an API token is shown once with a copy button", async () => {
    await open("/tokens");
    await page.fill("input[name=name]", "cron-scripts");
    await page.uncheck("input[name=READ]");
    await page.check("input[name=CHECKIN]");
    await page.click("button:has-text('Create token')");
    token = (await page.textContent("[data-testid=token-plaintext]")).trim();
    assert.match(token, /^ctp_/);
    await page.reload();
    await page.waitForSelector("td:has-text('cron-scripts')");
    assert.equal(await page.locator("[data-testid=token-plaintext]").count(), 0);
  });

  test("the install page shows the server's one-line installer with a fresh enrollment token", async () => {
    await open("/install");
    await page.click("button:has-text('Make an enrollment token')");
    await page.waitForSelector("[data-testid=install-commands]:has-text('cten_')");
    const linux = (await page.textContent("[data-testid=install-commands]")).trim();
    assert.match(linux, new RegExp(`^curl -fsSL ${server.url}/install/agent\\.sh \\| sudo sh -s -- --token cten_\\S+$`));
    const script = await fetch(`${server.url}/install/agent.sh`);
    assert.equal(script.status, 200);
    assert.match(await script.text(), new RegExp(`^#!/bin/sh\\n[^]*\\nSERVER='${server.url}'\\n`));
    await page.click("button:has-text('Windows')");
    const windows = await page.textContent("[data-testid=install-commands]");
    assert.ok(windows.includes(`irm '${server.url}/install/agent.ps1'))) -Token 'cten_`), windows);
  });

  test("a check-in over HTTP appears on the dashboard without reloading", async () => {
    await open("/");
    await page.waitForSelector("[data-testid=live-indicator]:has-text('Live')");
    const runId = await postCheckIn(server.url, token, jobId, 0, "backup finished\n");
    await page.waitForSelector(`[data-run-id="${runId}"]`, { timeout: 5_000 });
    assert.match(await page.textContent(`[data-run-id="${runId}"]`), /SUCCESS/);
  });

  test("the run log prepends matching runs live and shows a run's output", async () => {
    await open("/runs?status=FAILURE");
    await page.waitForSelector("[data-testid=live-indicator]:has-text('Live')");
    const ok = await postCheckIn(server.url, token, jobId, 0, "fine\n");
    const failed = await postCheckIn(server.url, token, jobId, 3, "disk full\n");
    await page.waitForSelector(`[data-run-id="${failed}"]`);
    assert.equal(await page.locator(`[data-run-id="${ok}"]`).count(), 0, "a SUCCESS run does not match the filter");
    await open("/runs");
    await page.waitForSelector(`[data-run-id="${failed}"]`);
    const next = await postCheckIn(server.url, token, jobId, 0, "again\n");
    await page.waitForSelector(`[data-run-id="${next}"]`);
    const first = await page.locator(".vbody [data-run-id]").first().getAttribute("data-run-id");
    assert.equal(first, next, "the newest run is on top");
    await page.click(`[data-run-id="${failed}"] a`);
    await page.waitForSelector("[data-testid=run-output]:has-text('disk full')");
  });

  test("the live socket the server ends for a changed role comes back on its own", async () => {
    await open("/runs");
    await page.waitForSelector("[data-testid=live-indicator]:has-text('Live')");
    let sockets = 0;
    const counting = () => (sockets += 1);
    const reconnected = async () => {
      const deadline = Date.now() + 15_000;
      while (sockets === 0 && Date.now() < deadline) await page.waitForTimeout(200);
      assert.ok(sockets > 0, "the console opened a new socket after the server closed the old one");
      await page.waitForSelector("[data-testid=live-indicator]:has-text('Live')");
    };
    page.on("websocket", counting);
    try {
      // As another server process would, straight in the database: the server sees it within
      // its credential cache's lifetime and ends the socket with 4403.
      setRole(server.dataDir, "alice", "ADMIN");
      await reconnected();
      const runId = await postCheckIn(server.url, token, jobId, 0, "after the role changed\n");
      await page.waitForSelector(`[data-run-id="${runId}"]`);
    } finally {
      sockets = 0;
      setRole(server.dataDir, "alice", "OWNER");
    }
    await reconnected();
    page.off("websocket", counting);
  });

  test("the run log pages with 'Load more'", async () => {
    await Promise.all(Array.from({ length: 55 }, (_, i) => postCheckIn(server.url, token, jobId, 0, `batch ${i}\n`)));
    await open("/runs");
    await page.waitForSelector("[role=table][aria-rowcount='50']");
    await page.click("button:has-text('Load more')");
    await page.waitForFunction(() => Number(document.querySelector("[role=table]").getAttribute("aria-rowcount")) > 50);
  });

  test("alerts: a failed run opens an incident, acknowledged and resolved here; a snooze is set and ended", async () => {
    await open("/alerts");
    await page.waitForSelector("h1:has-text('Alerts')");
    await postCheckIn(server.url, token, jobId, 2, "backup target unreachable\n");
    const incident = page.locator("[data-testid=incidents] tr", { hasText: "nightly-backup" }).first();
    await incident.waitFor({ timeout: 15_000 });
    await incident.locator("button:has-text('Acknowledge')").click();
    await page.waitForSelector("[data-testid=incidents] tr:has-text('ack by alice')");
    await page.locator("[data-testid=incidents] tr", { hasText: "nightly-backup" }).first().locator("button:has-text('Resolve')").click();
    await page.waitForSelector("text=No incidents.");
    await page.selectOption("select[aria-label='Incident status']", "RESOLVED");
    await page.waitForSelector("[data-testid=incidents] tr:has-text('resolved')").catch(async (error) => {
      throw new Error(`${error.message}\n${await page.textContent("main")}`);
    });
    await page.selectOption("select[aria-label='Snooze: what']", "namespace");
    await page.waitForSelector("select[aria-label='Snooze: namespace'] option:text-is('default')", { state: "attached" });
    await page.selectOption("select[aria-label='Snooze: namespace']", "default");
    await page.fill("input[aria-label=Reason]", "disk swap");
    await page.click("button:has-text('Snooze')");
    await page.waitForSelector("tr:has-text('namespace default'):has-text('disk swap')");
    await page.click("tr:has-text('disk swap') button:has-text('End now')");
    await page.waitForSelector("text=Nothing is silenced.");
  });

  test("an endpoint enrolled through the API is listed", async (t) => {
    const api = await accessToken();
    const schema = await graphql(server.url, api, `{ __type(name: "Mutation") { fields { name } } }`);
    if (!schema.__type.fields.some((f) => f.name === "enrollEndpoint")) {
      t.skip("this server has no enrollEndpoint yet");
      return;
    }
    const made = await graphql(
      server.url,
      api,
      `mutation { createEnrollmentToken(name: "e2e") { __typename ... on CreatedEnrollmentToken { plaintext } ... on UserError { message } } }`,
    );
    const enrolled = await graphql(
      server.url,
      null,
      `mutation($t: String!) { enrollEndpoint(enrollmentToken: $t, name: "web-1", hostname: "web-1.example.com",
        platform: "linux", machineId: "e2e-machine-0001", agentVersion: "0.1.0", drivers: ["cron"]) {
        __typename ... on EnrolledEndpoint { endpointToken } ... on UserError { message } } }`,
      { t: made.createEnrollmentToken.plaintext },
    );
    assert.equal(enrolled.enrollEndpoint.__typename, "EnrolledEndpoint", JSON.stringify(enrolled));
    endpointToken = enrolled.enrollEndpoint.endpointToken;
    await open("/endpoints");
    await page.waitForSelector("[data-testid=endpoints-table] a:has-text('web-1')");
    await open("/jobs");
    await page.click("button[aria-label='Endpoints of nightly-backup']");
    await page.waitForSelector("[data-testid=job-endpoints] a:has-text('web-1')");
  });

  test("a known machine enrolling again without its token waits for an admin's approval", async (t) => {
    if (!endpointToken) {
      t.skip("no endpoint was enrolled");
      return;
    }
    const api = await accessToken();
    const made = await graphql(
      server.url,
      api,
      `mutation { createEnrollmentToken(name: "e2e-again") { __typename ... on CreatedEnrollmentToken { plaintext } } }`,
    );
    const claim = await graphql(
      server.url,
      null,
      `mutation($t: String!) { enrollEndpoint(enrollmentToken: $t, name: "web-1", hostname: "web-1.example.com",
        platform: "linux", machineId: "e2e-machine-0001", agentVersion: "0.1.1", drivers: ["cron"]) {
        __typename ... on EnrollmentPending { endpointToken message } ... on UserError { message } } }`,
      { t: made.createEnrollmentToken.plaintext },
    );
    assert.equal(claim.enrollEndpoint.__typename, "EnrollmentPending", JSON.stringify(claim));
    await open("/endpoints");
    const row = page.locator("[data-testid=pending-enrollments] tr", { hasText: "e2e-machine-0001" });
    await row.waitFor();
    page.once("dialog", (dialog) => dialog.accept());
    await row.locator("button:has-text('Approve')").click();
    await page.waitForSelector("[data-testid=pending-enrollments]", { state: "detached" });
    // The approved request's token is the endpoint's now; the old one stopped working.
    endpointToken = claim.enrollEndpoint.endpointToken;
    const me = await graphql(server.url, endpointToken, `{ repository { cloneUrl } }`);
    assert.ok(me.repository.cloneUrl);
  });

  test("a job the agent discovered is marked, read-only, and adopted into a namespace", async (t) => {
    if (!endpointToken) {
      t.skip("no endpoint was enrolled");
      return;
    }
    const report = await graphql(
      server.url,
      endpointToken,
      `mutation { reportDiscoveredJobs(items: [{schedule: "17 * * * *", command: "/usr/local/bin/rotate-logs",
        user: "root", driver: "cron", fingerprint: "e2e-fingerprint-0001"}]) {
        __typename ... on DiscoveredJobsReport { results { outcome jobId } } ... on UserError { message } } }`,
    );
    const discovered = report.reportDiscoveredJobs.results[0].jobId;
    assert.ok(discovered, JSON.stringify(report));
    await open("/jobs?namespace=discovered");
    const row = page.locator("[data-testid=jobs-table] tr", { hasText: "discovered" }).first();
    await row.waitFor();
    await open(`/jobs/${discovered}`);
    await page.waitForSelector("button:has-text('Adopt')");
    assert.equal(await page.locator("a:has-text('Edit')").count(), 0, "a discovered job is read-only");
    await page.fill("input[aria-label='Adopt into namespace']", "default");
    await page.click("button:has-text('Adopt')");
    await page.waitForSelector("h1:has-text('in default')");
    assert.equal(await page.locator("input[aria-label='Adopt into namespace']").count(), 0);
    await page.waitForSelector("[data-testid=history] li:has-text('adopt')");
  });

  test("a job the endpoint could not install shows the driver's reason on the job and endpoint pages", async (t) => {
    if (!endpointToken) {
      t.skip("no endpoint was enrolled");
      return;
    }
    const api = await accessToken();
    const jobs = await graphql(server.url, api, `{ jobs(first: 50) { nodes { id name } } }`);
    const job = jobs.jobs.nodes.find((j) => j.name === "nightly-backup");
    assert.ok(job, JSON.stringify(jobs));
    const reason = 'time zone "Europe/Berlin": the machine runs in Etc/UTC and its cron has no CRON_TZ';
    const reported = await graphql(
      server.url,
      endpointToken,
      `mutation($items: [JobInstanceInput!]!) { reportJobInstances(items: $items) {
        __typename ... on JobInstanceReport { total } ... on UserError { message } } }`,
      { items: [{ jobId: job.id, driver: "cron", state: "FAILED", failureReason: reason }] },
    );
    assert.equal(reported.reportJobInstances.__typename, "JobInstanceReport", JSON.stringify(reported));
    await open(`/jobs/${job.id}`);
    await page.waitForSelector(`[data-testid=job-endpoints] tr:has-text('web-1') [data-testid=failure-reason]:has-text('${reason}')`);
    const endpoints = await graphql(server.url, api, `{ endpoints(first: 10) { nodes { id name } } }`);
    const endpoint = endpoints.endpoints.nodes.find((e) => e.name === "web-1");
    await open(`/endpoints/${endpoint.id}`);
    await page.waitForSelector(`tr:has-text('nightly-backup') [data-testid=failure-reason]:has-text('${reason}')`);
  });

  test("an endpoint is revoked after confirmation", async (t) => {
    if (!endpointToken) {
      t.skip("no endpoint was enrolled");
      return;
    }
    await open("/endpoints");
    const row = page.locator("[data-testid=endpoints-table] tr", { hasText: "web-1" }).first();
    page.once("dialog", (dialog) => dialog.accept());
    await row.locator("button:has-text('Revoke')").click();
    await page.waitForSelector("[data-testid=endpoints-table] tr:has-text('web-1') :text('REVOKED')");
  });

  test("a namespace is created and deleted while empty; system namespaces offer no delete", async () => {
    await open("/namespaces");
    await page.fill("input[aria-label='Namespace name']", "reports");
    await page.click("button:has-text('Create')");
    const row = page.locator("tr", { hasText: "reports" });
    await row.waitFor();
    assert.equal(await page.locator("tr:has-text('discovered') button:has-text('Delete')").count(), 0, "system namespaces stay");
    page.once("dialog", (dialog) => dialog.accept());
    await row.locator("button:has-text('Delete')").click();
    await row.waitFor({ state: "detached" });
  });

  test("a job is deleted after confirmation and leaves the list", async () => {
    const api = await accessToken();
    const made = await graphql(
      server.url,
      api,
      `mutation { createJob(input: {name: "short-lived", schedule: "@daily", command: "/bin/true"}) { __typename ... on Job { id } } }`,
    );
    await open(`/jobs/${made.createJob.id}`);
    page.once("dialog", (dialog) => dialog.accept());
    await page.click("button:has-text('Delete')");
    await page.waitForURL(/\/jobs$/);
    await page.waitForSelector("[data-testid=jobs-table] a:has-text('nightly-backup')");
    assert.equal(await page.locator("[data-testid=jobs-table] a:has-text('short-lived')").count(), 0);
  });

  test("run now on a job no endpoint runs says why nothing ran", async () => {
    const api = await accessToken();
    const made = await graphql(
      server.url,
      api,
      `mutation { createJob(input: {name: "run-me", schedule: "@daily", command: "/bin/true",
         targetLabels: [{key: "role", value: "nowhere"}]}) { __typename ... on Job { id } } }`,
    );
    await open(`/jobs/${made.createJob.id}`);
    await page.click("button:has-text('Run now')");
    const note = page.locator("text=targets no endpoint");
    await note.waitFor();
    assert.match(await note.innerText(), /role.*nowhere/);
  });

  test("the offline playground runs a query and a subscription with the console's token", async () => {
    await open("/graphql");
    await page.waitForURL(/\/playground$/);
    // GraphiQL mounts its editors one after another: wait for the two this test drives.
    await page.waitForSelector(".graphiql-query-editor .CodeMirror");
    await page.waitForSelector(".graphiql-response .CodeMirror");
    // GraphiQL takes the operation's name from the editor a moment after a change; the tab
    // shows it when it is ready to run.
    const setQuery = async (text, name) => {
      await page.evaluate((value) => document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue(value), text);
      await page.waitForSelector(`.graphiql-tab:has-text('${name}'), .graphiql-session-header:has-text('${name}')`);
    };
    const response = () => page.evaluate(() => document.querySelector(".graphiql-response .CodeMirror").CodeMirror.getValue());
    await setQuery("query Mine { me { user { username } } }", "Mine");
    await page.click(".graphiql-execute-button");
    await page.waitForFunction(() => document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror.getValue().includes("alice"));
    assert.match(await response(), /"username": "alice"/);

    await setQuery("subscription Watch { runEvents { kind run { id status output } } }", "Watch");
    await page.click(".graphiql-execute-button");
    await page.waitForTimeout(500); // the subscription is registered once the socket is acknowledged
    const runId = await postCheckIn(server.url, token, jobId, 0, "from the playground test\n");
    await page.waitForFunction(
      (id) => document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror.getValue().includes(id),
      runId,
      { timeout: 10_000 },
    );
    await page.click(".graphiql-execute-button"); // stop the subscription
  });

  test("every page renders in light and dark mode (screenshots in test-artifacts/)", async () => {
    const dir = screenshotDir();
    const pages = [
      ["dashboard", "/"],
      ["runs", "/runs"],
      ["health", "/health-report"],
      ["alerts", "/alerts"],
      ["jobs", "/jobs"],
      ["job", `/jobs/${jobId}`],
      ["job-edit", `/jobs/${jobId}/edit`],
      ["job-new", "/jobs/new"],
      ["endpoints", "/endpoints"],
      ["namespaces", "/namespaces"],
      ["tokens", "/tokens"],
      ["members", "/members"],
      ["audit", "/audit"],
      ["install", "/install"],
      ["playground", "/playground"],
      ["account", "/account"],
    ];
    for (const scheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const [name, path] of pages) {
        await open(path);
        await page.waitForSelector("main h1, [data-testid=playground] .CodeMirror").catch((error) => {
          throw new Error(`${path} (${scheme}) did not render: ${error.message}`);
        });
        await page.waitForLoadState("networkidle");
        assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), scheme);
        await page.screenshot({ path: join(dir, `${name}-${scheme}.png`), fullPage: name !== "playground" });
        assert.deepEqual(await page.evaluate(badgesBelowContrast), [], `${path} (${scheme})`);
      }
      // On a page longer than the window the sidebar still runs from top to bottom.
      await page.setViewportSize({ width: 1280, height: 400 });
      await open(`/jobs/${jobId}`);
      await page.waitForSelector("main h1");
      await page.waitForLoadState("networkidle");
      const heights = await page.evaluate(() => ({
        page: document.documentElement.scrollHeight,
        window: window.innerHeight,
        sidebar: document.querySelector("aside.sidebar").getBoundingClientRect().height,
      }));
      assert.ok(heights.page > heights.window, `the dashboard is longer than the window: ${JSON.stringify(heights)}`);
      assert.ok(heights.sidebar >= heights.page - 1, `the sidebar fills the page: ${JSON.stringify(heights)}`);
      await page.screenshot({ path: join(dir, `sidebar-long-${scheme}.png`), fullPage: true });
      await page.setViewportSize({ width: 1280, height: 800 });
    }
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [name, path] of [["dashboard", "/"], ["job", `/jobs/${jobId}`]]) {
      await open(path);
      await page.waitForSelector("main h1");
      await page.screenshot({ path: join(dir, `${name}-phone-dark.png`), fullPage: true });
    }
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.emulateMedia({ colorScheme: "light" });
    await page.context().clearCookies();
    await open("/login");
    await page.waitForSelector(".auth-card svg.logo", { timeout: 10_000 });
    assert.equal(await page.evaluate(() => document.querySelector("link[rel=icon]").href), `${server.url}/logo.svg`);
    assert.equal((await fetch(`${server.url}/logo.svg`)).headers.get("content-type"), "image/svg+xml");
    await page.screenshot({ path: join(dir, "login-light.png") });
  });

  test("a member of two tenants switches between them", async () => {
    const bob = await register(server.url, "bob");
    const added = await graphql(
      server.url,
      bob,
      `mutation { addMember(username: "alice", role: MEMBER) { __typename ... on UserError { message } } }`,
    );
    assert.equal(added.addMember.__typename, "Membership");
    await context.clearCookies();
    await open("/login");
    await page.fill("input[name=username]", "alice");
    await page.fill("input[name=password]", PASSWORD);
    await page.click("button:has-text('Log in')");
    await page.waitForSelector("select[aria-label=Tenant] option:has-text('bob')", { state: "attached" });
    await page.selectOption("select[aria-label=Tenant]", "bob");
    await page.fill("input[aria-label=Password]", PASSWORD);
    await page.click("button:has-text('Switch')");
    await page.waitForSelector("input[aria-label=Password]", { state: "detached" });
    await page.waitForFunction(() => document.querySelector("select[aria-label=Tenant]")?.value === "bob");
    // The refresh cookie now belongs to the new session: a reload stays in bob's tenant.
    await page.reload();
    await page.waitForFunction(() => document.querySelector("select[aria-label=Tenant]")?.value === "bob");
    // Shortcuts are ignored while a field has focus, and the reload may still be settling: wait
    // for the dashboard and take focus off any field before pressing keys.
    await page.waitForSelector("h1:has-text('Dashboard')");
    await page.evaluate(() => (document.activeElement)?.blur?.());
    await page.keyboard.press("g");
    await page.keyboard.press("j");
    await page.waitForURL(/\/jobs$/);
    await page.waitForSelector("text=No jobs match.");
    await page.keyboard.press("/");
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("aria-label")), "Search");
  });

  test("the account page lists the sessions and ends another one", async () => {
    const other = await login(server.url, "alice");
    await open("/account");
    await page.waitForSelector("[data-testid=sessions] td:has-text('this session')");
    const rows = page.locator("[data-testid=sessions] tbody tr");
    assert.ok((await rows.count()) >= 2);
    assert.match(await page.textContent("[data-testid=sessions] tr:has-text('this session')"), /Chrom/);
    // The newest API session is the most recently used one after this page's own.
    // Counted before the click: the row may be gone by the time a count after it is read.
    const before = await rows.count();
    page.once("dialog", (dialog) => dialog.accept());
    await page.locator("[data-testid=sessions] tbody tr:has(button:has-text('End'))").first().locator("button").click();
    await page.waitForFunction((count) => document.querySelectorAll("[data-testid=sessions] tbody tr").length === count - 1, before);
    const ended = await Promise.all(
      [other, apiToken].filter(Boolean).map((token) => graphql(server.url, token, "{ me { role } }").then(() => false, () => true)),
    );
    assert.ok(ended.includes(true), "one of the API sessions was ended");
    apiToken = undefined;
  });

  test("logging out ends the session and returns to the login page", async () => {
    await context.clearCookies();
    await open("/login");
    await page.fill("input[name=username]", "alice");
    await page.fill("input[name=password]", PASSWORD);
    await page.click("button:has-text('Log in')");
    await page.waitForSelector("h1:has-text('Dashboard')");
    const cookie = await refreshCookie();
    await page.click("button:has-text('Log out')");
    await page.waitForURL(/\/login/);
    assert.equal(await refreshCookie(), undefined, "the refresh cookie is cleared");
    await page.reload();
    await page.waitForSelector("h1:has-text('Log in')");
    const replay = await fetch(`${server.url}/auth/refresh`, {
      method: "POST",
      headers: { Origin: server.url, Cookie: `crontopus_refresh=${cookie.value}` },
    });
    assert.equal(replay.status, 401, "the ended session's refresh token is dead");
  });

  test("the Content-Security-Policy is enforced: an injected inline script is blocked and reported", async () => {
    await open("/login");
    await page.waitForSelector("h1:has-text('Log in')");
    const seen = cspViolations.length;
    await page.evaluate(() => {
      const script = document.createElement("script");
      script.textContent = "window.injected = true";
      document.head.append(script);
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await page.evaluate(() => window.injected), undefined);
    assert.equal(cspViolations.length, seen + 1, "the violation was reported");
    assert.match(cspViolations.pop(), /script-src/);
  });

  test("nothing was loaded from beyond the server, no page threw and nothing broke the CSP", () => {
    assert.deepEqual(foreignRequests, []);
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(cspViolations, []);
  });
});
