// Forms that help, in a real browser against a real server: each problem once at its field,
// a namespace made without leaving the job form, snoozes of a job picked by name, channel forms
// per kind, tokens for scripts with a ready check-in line, a run log that finds part of a name,
// and page titles, focus, the skip link and "/" on every navigation.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createServer } from "node:net";
import { checkinToken, graphql, launchBrowser, logInInBrowser, noBrowser, postCheckIn, register, screenshots, startServer } from "./support.mjs";

let server;
let chromium;
let page;
let token;
let closedPort;
const pageErrors = [];

async function open(path) {
  await page.goto(server.url + path);
}

/** A loopback port nothing listens on: a webhook there fails to deliver. */
function unusedPort() {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

describe("forms that help", { skip: noBrowser }, () => {
  before(async () => {
    closedPort = await unusedPort();
    // The failing webhook below lives on loopback, which channels may not reach by default.
    process.env.CRONTOPUS_OUTBOUND_ALLOW = `127.0.0.1/32:${closedPort}`;
    server = await startServer();
    delete process.env.CRONTOPUS_OUTBOUND_ALLOW;
    chromium = await launchBrowser();
    const context = await chromium.browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on("pageerror", (error) => pageErrors.push(error.message));
    token = await register(server.url, "fiona");
    await logInInBrowser(page, server.url, "fiona");
  });

  after(async () => {
    await chromium?.close();
    await server?.stop();
  });

  test("a job form problem shows once, at its field, and goes away as the field is edited", async () => {
    await open("/jobs/new");
    await page.fill("input[name=name]", "backup-db");
    await page.fill("input[name=command]", "/opt/backup.sh");
    await page.fill("input[name=schedule]", "61 * * * *");
    const error = page.locator("[data-testid=field-error][data-field=schedule]");
    await error.waitFor();
    // The validator's answer arrives after the preview's: wait for it, then count.
    await page.waitForSelector("[data-testid=validation] .error");
    const message = (await error.textContent()).trim();
    const body = await page.textContent("main");
    assert.equal(body.split(message).length - 1, 1, `"${message}" shows once`);
    assert.equal(await page.getAttribute("input[name=schedule]", "aria-invalid"), "true");
    assert.equal(await page.getAttribute("input[name=schedule]", "aria-describedby"), await error.getAttribute("id"));
    await screenshots(page, "forms-job-error");
    await page.locator("input[name=schedule]").press("End");
    await page.keyboard.press("Backspace");
    assert.equal(await error.count(), 0, "the problem goes the moment its field is edited");
    await page.fill("input[name=schedule]", "15 2 * * *");
    await page.waitForSelector("[data-testid=validation]:has-text('Valid manifest')");
    assert.equal(await page.locator("[data-testid=field-error], [data-testid=validation] .error").count(), 0, "no stale problem beside the tick");
  });

  test("a namespace is created from the job form without losing what was typed", async () => {
    await page.click("button:has-text('New namespace')");
    await page.fill("[aria-label='New namespace name']", "Bad Name");
    await page.click("[data-testid=new-namespace] button:has-text('Create')");
    await page.waitForSelector("[data-testid=field-error][data-field=namespace]");
    await page.fill("[aria-label='New namespace name']", "payments");
    await page.click("[data-testid=new-namespace] button:has-text('Create')");
    await page.waitForFunction(() => document.querySelector("select[name=namespace]")?.value === "payments");
    assert.equal(await page.inputValue("input[name=name]"), "backup-db");
    assert.equal(await page.inputValue("input[name=schedule]"), "15 2 * * *");
    await page.waitForSelector("[data-testid=validation]:has-text('Valid manifest')");
    await page.click("button:has-text('Create job')");
    await page.waitForSelector("h1:has-text('backup-db')");
    assert.match(await page.textContent("h1"), /in payments/);
  });

  test("a snooze names a job picked by name, and an unknown name is refused at the field", async () => {
    await open("/alerts");
    await page.selectOption("[aria-label='Snooze: what']", "job");
    await page.fill("[aria-label='Snooze: job']", "no-such-job");
    await page.click("button:has-text('Snooze')");
    await page.waitForSelector("[data-testid=scope-problem]:has-text('No job is named no-such-job')");
    assert.equal(await page.getAttribute("[aria-label='Snooze: job']", "aria-invalid"), "true");
    await page.fill("[aria-label='Snooze: job']", "backup");
    await page.waitForSelector("[data-testid=job-suggestions] option[value=backup-db]", { state: "attached" });
    await page.fill("[aria-label='Snooze: job']", "backup-db");
    await page.click("button:has-text('Snooze')");
    await page.waitForSelector("td:has-text('Snooze of job backup-db')");
    const { snoozes } = await graphql(server.url, token, "{ snoozes { jobId namespace } }");
    assert.equal(snoozes.length, 1);
    assert.match(snoozes[0].jobId, /^[0-9a-f-]{36}$/);
    assert.equal(snoozes[0].namespace, null, "a job's name never becomes a namespace");

    await page.selectOption("[aria-label='Snooze: what']", "namespace");
    await page.waitForSelector("[aria-label='Snooze: namespace'] option:text-is('payments')", { state: "attached" });
  });

  test("channels have a form per kind with placeholders, and failed deliveries read red", async () => {
    assert.equal(await page.locator("[data-testid=channel-form] textarea").count(), 0, "no JSON to write");
    await page.selectOption("[data-testid=channel-form] select[name=kind]", "EMAIL");
    assert.equal(await page.getAttribute("input[name='config.host']", "placeholder"), "smtp.example.com");
    assert.equal(await page.inputValue("input[name='config.host']"), "", "placeholders, not pre-filled examples");
    await page.selectOption("[data-testid=channel-form] select[name=kind]", "SLACK");
    assert.match(await page.getAttribute("input[name='config.url']", "placeholder"), /hooks\.slack\.com/);
    await page.selectOption("[data-testid=channel-form] select[name=kind]", "WEBHOOK");
    await page.fill("[data-testid=channel-form] input[name=name]", "ops-hook");
    await page.fill("input[name='config.url']", "ftp://example.com");
    await page.click("button:has-text('Add channel')");
    await page.waitForSelector("[data-testid=field-error][data-field=url]");
    assert.equal(await page.getAttribute("input[name='config.url']", "aria-invalid"), "true");
    await page.fill("input[name='config.url']", `http://127.0.0.1:${closedPort}/hook`);
    assert.equal(await page.locator("[data-testid=field-error][data-field=url]").count(), 0);
    await page.click("button:has-text('Add channel')");
    await page.waitForSelector("td:has-text('ops-hook')");
    await page.click("button:has-text('Send test')");
    const failed = page.locator("[data-testid=deliveries] tr.failed [data-testid=delivery-status]").first();
    await failed.waitFor({ timeout: 30_000 });
    const [red, text] = await failed.evaluate((el) => [getComputedStyle(el).color, getComputedStyle(document.body).color]);
    assert.notEqual(red, text, "a failed delivery stands out");
    await screenshots(page, "forms-alerts");
  });

  test("the token list says last 4, explains scopes, and a token for scripts comes with a curl line", async () => {
    await open("/tokens");
    await page.waitForSelector("th:has-text('Last 4')");
    for (const scope of ["READ", "WRITE", "CHECKIN"]) assert.match(await page.textContent(`label:has(input[name=${scope}])`), /—\s*\w+/);
    await page.fill("input[name=name]", "cron-box");
    await page.click("[data-testid=for-scripts]");
    assert.deepEqual(
      [await page.isChecked("input[name=READ]"), await page.isChecked("input[name=WRITE]"), await page.isChecked("input[name=CHECKIN]")],
      [false, false, true],
    );
    await page.click("button:has-text('Create token')");
    const plaintext = (await page.textContent("[data-testid=token-plaintext]")).trim();
    const line = await page.textContent("[data-testid=checkin-line] pre");
    assert.ok(line.startsWith("curl "), line);
    assert.ok(line.includes(`Bearer ${plaintext}`), line);
    assert.ok(line.includes(`${server.url}/checkin/<job-id>/0`), line);
    const last4 = await page.textContent("tbody tr td:nth-child(3)");
    assert.equal(last4.trim(), `…${plaintext.slice(-4)}`);
    await screenshots(page, "forms-tokens");
  });

  test("the run log's job filter suggests names and finds runs by part of a name", async () => {
    const jobId = (await graphql(server.url, token, "{ jobs { nodes { id name } } }")).jobs.nodes.find((j) => j.name === "backup-db").id;
    const other = await graphql(
      server.url,
      token,
      `mutation { createJob(input: {name: "report", namespace: "default", schedule: "0 * * * *", command: "/bin/true"}) { ... on Job { id } } }`,
    );
    const checkin = await checkinToken(server.url, token);
    await postCheckIn(server.url, checkin, jobId);
    await postCheckIn(server.url, checkin, other.createJob.id);
    await open("/runs");
    await page.waitForSelector("[data-testid=runs-table] [data-run-id] >> nth=1");
    await page.fill("input[name=job]", "KUP");
    await page.waitForSelector("[data-testid=job-suggestions] option[value=backup-db]", { state: "attached" });
    await page.press("input[name=job]", "Enter");
    await page.waitForURL(/job=KUP/);
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=runs-table] [data-run-id]").length === 1);
    assert.match(await page.textContent("[data-testid=runs-table] [data-run-id]"), /backup-db/);
    // A run that arrives while the page is open reads "just now", never "in the future".
    await postCheckIn(server.url, checkin, jobId);
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=runs-table] [data-run-id]").length === 2);
    assert.doesNotMatch(await page.textContent("main"), /in the future/);
  });

  test("every page has a title, focus moves to its heading, a skip link leads to it, and / focuses its search", async () => {
    await open("/");
    await page.waitForSelector("h1:has-text('Dashboard')");
    assert.equal(await page.title(), "Dashboard · Crontopus");
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to content");
    await page.keyboard.press("Enter");
    assert.equal(await page.evaluate(() => document.activeElement?.id || document.activeElement?.closest("#content")?.id), "content");
    await page.click("nav a:has-text('Jobs')");
    await page.waitForFunction(() => document.activeElement?.tagName === "H1" && document.activeElement.textContent === "Jobs");
    assert.equal(await page.title(), "Jobs · Crontopus");
    await page.keyboard.press("/");
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("name")), "q");
    await page.click("[data-testid=jobs-table] a:has-text('backup-db')");
    await page.waitForFunction(() => document.title === "backup-db in payments · Crontopus");
    await page.click("nav a:has-text('Audit')");
    await page.waitForFunction(() => document.activeElement?.tagName === "H1");
    await page.keyboard.press("/");
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("name")), "q");
  });

  test("no page threw", () => {
    assert.deepEqual(pageErrors, []);
  });
});
