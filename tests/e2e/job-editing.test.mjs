// Editing what used to need a `git push`, in a real browser against a real server: a job's
// alert rules through the form, a whole manifest in YAML mode with the validator's messages
// inline, and an endpoint's labels.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { graphql, launchBrowser, noBrowser, PASSWORD, register, startServer } from "./support.mjs";

let server;
let chromium;
let page;
let token;
const pageErrors = [];

async function open(path) {
  await page.goto(server.url + path);
}

async function job(id) {
  return (await graphql(server.url, token, `query($id: UUID!) { job(id: $id) { yaml blobId alerts { onFailure consecutiveFailures channels } } }`, { id })).job;
}

describe("editing jobs and endpoints in the console", { skip: noBrowser }, () => {
  before(async () => {
    server = await startServer();
    chromium = await launchBrowser();
    const context = await chromium.browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on("pageerror", (error) => pageErrors.push(error.message));
    token = await register(server.url, "erin");
    await open("/login");
    await page.fill("input[name=username]", "erin");
    await page.fill("input[name=password]", PASSWORD);
    await page.click("button:has-text('Log in')");
    await page.waitForSelector("h1:has-text('Dashboard')");
  });

  after(async () => {
    await chromium?.close();
    await server?.stop();
  });

  let jobId;

  test("a job's alert rules are set with the form and saved into its manifest", async () => {
    await open("/jobs/new");
    await page.fill("input[name=name]", "nightly-report");
    await page.fill("input[name=command]", "/opt/report.sh");
    await page.check("input[name='alerts.own']");
    await page.selectOption("select[name='alerts.onFailure']", "no");
    await page.fill("input[name='alerts.consecutiveFailures']", "0");
    await page.waitForSelector("[data-testid=field-error][data-field='alerts.consecutiveFailures']");
    await page.fill("input[name='alerts.consecutiveFailures']", "3");
    await page.fill("input[name='alerts.channels']", "ops, pager");
    await page.waitForSelector("[data-testid=validation]:has-text('Valid manifest')");
    await page.click("button:has-text('Create job')");
    await page.waitForSelector("h1:has-text('nightly-report')");
    jobId = page.url().split("/").pop();
    const saved = await job(jobId);
    assert.deepEqual(saved.alerts, { onFailure: false, consecutiveFailures: 3, channels: ["ops", "pager"] });

    await open(`/jobs/${jobId}/edit`);
    await page.waitForFunction(() => document.querySelector("input[name='alerts.consecutiveFailures']")?.value === "3");
    await page.fill("input[name='alerts.consecutiveFailures']", "5");
    await page.waitForSelector("[data-testid=validation]:has-text('Valid manifest')");
    await page.click("button:has-text('Save changes')");
    await page.waitForSelector("[data-testid=history] li >> nth=1");
    assert.equal((await job(jobId)).alerts.consecutiveFailures, 5);
  });

  test("YAML mode edits the whole manifest, shows the validator's problems inline and goes back to the form", async () => {
    await open(`/jobs/${jobId}/edit`);
    await page.waitForSelector("input[name=name]");
    await page.click("[role=tab]:has-text('YAML')");
    const editor = page.locator("textarea[name=manifest]");
    const stored = (await job(jobId)).yaml;
    assert.equal(await editor.inputValue(), stored, "an untouched job shows its manifest as stored");
    await editor.fill(stored.replace("consecutiveFailures: 5", "consecutiveFailures: many"));
    await page.waitForSelector("[data-testid=validation] .error:has-text('spec.alerts.consecutiveFailures')");
    assert.equal(await page.locator("[role=tab]:has-text('Form')").isDisabled(), true);
    await editor.fill(stored.replace("consecutiveFailures: 5", "consecutiveFailures: 7") + "  systemd:\n    acceptDstDifferences: true\n");
    await page.waitForSelector("[data-testid=validation]:has-text('Valid manifest')");
    await page.click("[role=tab]:has-text('Form')");
    await page.waitForFunction(() => document.querySelector("input[name='alerts.consecutiveFailures']")?.value === "7");
    assert.equal(await page.isChecked("input[name=systemdAcceptDst]"), true);
    await page.click("[role=tab]:has-text('YAML')");
    await page.waitForSelector("[data-testid=validation]:has-text('Valid manifest')");
    await page.click("button:has-text('Save changes')");
    await page.waitForSelector("[data-testid=history] li >> nth=2");
    const saved = await job(jobId);
    assert.equal(saved.alerts.consecutiveFailures, 7);
    assert.match(saved.yaml, /systemd:\n {4}acceptDstDifferences: true/);
  });

  test("a new job can be written as YAML from the start", async () => {
    await open("/jobs/new");
    await page.click("[role=tab]:has-text('YAML')");
    await page.locator("textarea[name=manifest]").fill(
      [
        "apiVersion: crontopus.io/v1",
        "kind: Job",
        "metadata:",
        "  name: from-yaml",
        "  namespace: default",
        "spec:",
        '  schedule: "*/10 * * * *"',
        "  command: /bin/true",
        "  alerts:",
        "    missedRun: true",
        "",
      ].join("\n"),
    );
    await page.waitForSelector("[data-testid=validation]:has-text('Valid manifest')");
    await page.click("button:has-text('Create job')");
    await page.waitForSelector("h1:has-text('from-yaml')");
    const created = await job(page.url().split("/").pop());
    assert.match(created.yaml, /missedRun: true/);
  });

  test("no page threw", () => {
    assert.deepEqual(pageErrors, []);
  });
});
