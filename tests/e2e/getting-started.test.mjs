// Getting started, in a real browser against a real server: an empty dashboard's checklist
// ticked from real data, a job saved with a commit message and a toast, its check-in URL with
// the curl snippet, and a clone of it. Screenshots at desktop and phone size in both themes.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { checkinToken, graphql, launchBrowser, logInInBrowser, noBrowser, postCheckIn, register, screenshots, startServer } from "./support.mjs";

let server;
let chromium;
let page;
let token;
let jobId;
const pageErrors = [];

async function open(path) {
  await page.goto(server.url + path);
  await page.waitForSelector("main h1");
}

/** The checklist's steps as "key:done". */
async function steps() {
  await page.waitForSelector("[data-testid=getting-started] li");
  return page.$$eval("[data-testid=getting-started] li", (items) => items.map((li) => `${li.dataset.step}:${li.dataset.done}`));
}

describe("getting started", { skip: noBrowser }, () => {
  before(async () => {
    server = await startServer();
    chromium = await launchBrowser();
    const context = await chromium.browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on("pageerror", (error) => pageErrors.push(error.message));
    token = await register(server.url, "ivy");
    await logInInBrowser(page, server.url, "ivy");
  });

  after(async () => {
    await chromium?.close();
    await server?.stop();
  });

  test("an empty dashboard shows the first steps, none done", async () => {
    assert.deepEqual(await steps(), ["job:false", "agent:false", "run:false"]);
    await screenshots(page, "getting-started-dashboard", () => page.waitForSelector("[data-testid=getting-started]"));
  });

  test("a job saved with a commit message answers with a toast and keeps the message in its history", async () => {
    await open("/jobs/new");
    await page.fill("input[name=name]", "nightly-report");
    await page.fill("input[name=command]", "/opt/report.sh");
    await page.fill("input[name=message]", "Report for the Monday meeting");
    await page.waitForSelector("[data-testid=validation]:has-text('Valid manifest')");
    await page.click("button:has-text('Create job')");
    await page.waitForSelector("h1:has-text('nightly-report')");
    await page.waitForSelector("[data-testid=toast]:has-text('Created default/nightly-report: “Report for the Monday meeting”')");
    jobId = page.url().split("/").pop();
    await page.waitForSelector("[data-testid=history] li:has-text('Report for the Monday meeting')");
    await screenshots(page, "getting-started-toast", () => page.waitForSelector("[data-testid=history] li"));
  });

  test("each job page shows its check-in URL with a curl snippet", async () => {
    const url = await page.textContent("[data-testid=checkin-url]");
    assert.equal(url.trim(), `${server.url}/checkin/${jobId}`);
    const snippet = await page.textContent("[data-testid=checkin] pre");
    assert.match(snippet, /curl -fsS -X POST .*\/checkin\/[0-9a-f-]{36}\/start/);
  });

  test("the checklist ticks each step from real data and goes once all are done", async () => {
    await open("/");
    assert.deepEqual(await steps(), ["job:true", "agent:false", "run:false"]);
    const made = await graphql(server.url, token, `mutation { createEnrollmentToken(name: "first") { ... on CreatedEnrollmentToken { plaintext } } }`);
    await graphql(
      server.url,
      null,
      `mutation($t: String!) { enrollEndpoint(enrollmentToken: $t, name: "box-1", hostname: "box-1.example.com",
        platform: "linux", machineId: "getting-started-0001", agentVersion: "0.1.0", drivers: ["cron"]) { __typename } }`,
      { t: made.createEnrollmentToken.plaintext },
    );
    await open("/");
    assert.deepEqual(await steps(), ["job:true", "agent:true", "run:false"]);
    await postCheckIn(server.url, await checkinToken(server.url, token), jobId);
    await open("/");
    await page.waitForSelector("[data-testid=runs-table] [data-run-id]");
    assert.equal(await page.locator("[data-testid=getting-started]").count(), 0, "all done: the checklist is gone");
  });

  test("a job is cloned into a form filled with it under a new name", async () => {
    await open(`/jobs/${jobId}`);
    await page.click("[data-testid=clone]");
    await page.waitForSelector("h1:has-text('Clone job')");
    await page.waitForFunction(() => document.querySelector("input[name=name]")?.value === "nightly-report-copy");
    assert.equal(await page.inputValue("input[name=command]"), "/opt/report.sh");
    assert.match(await page.inputValue("input[name=message]"), /Clone of default\/nightly-report/);
    await page.waitForSelector("[data-testid=validation]:has-text('Valid manifest')");
    await screenshots(page, "getting-started-clone");
    await page.click("button:has-text('Create job')");
    await page.waitForSelector("h1:has-text('nightly-report-copy')");
    const names = (await graphql(server.url, token, "{ jobs { nodes { name } } }")).jobs.nodes.map((j) => j.name).sort();
    assert.deepEqual(names, ["nightly-report", "nightly-report-copy"]);
  });

  test("no page threw", () => {
    assert.deepEqual(pageErrors, []);
  });
});
