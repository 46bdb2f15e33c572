// No silent cut-offs: a tenant with 250 jobs and 150 endpoints finds the last of each by
// "Load more" in a real browser, and a server-side search finds one directly.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { launchBrowser, noBrowser, PASSWORD, register, ROOT, startServer } from "./support.mjs";

let server;
let chromium;
let page;
const pageErrors = [];

describe("long lists page", { skip: noBrowser }, () => {
  before(async () => {
    server = await startServer();
    await register(server.url, "frank");
    // Through the services, in one commit and one transaction: not 400 API calls.
    const seeded = spawnSync(join(ROOT, ".venv/bin/python"), [join(ROOT, "tests/e2e/seed_fleet.py"), server.dataDir, "frank", "250", "150"]);
    assert.equal(seeded.status, 0, String(seeded.stderr));
    chromium = await launchBrowser();
    const context = await chromium.browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(server.url + "/login");
    await page.fill("input[name=username]", "frank");
    await page.fill("input[name=password]", PASSWORD);
    await page.click("button:has-text('Log in')");
    await page.waitForSelector("h1:has-text('Dashboard')");
  });

  after(async () => {
    await chromium?.close();
    await server?.stop();
  });

  async function loadAll(table, expected) {
    await page.waitForSelector(`[data-testid=${table}] tbody tr >> nth=99`);
    while (await page.locator("[data-testid=load-more]").count()) {
      const before = await page.locator(`[data-testid=${table}] tbody tr`).count();
      await page.click("[data-testid=load-more]");
      await page.waitForFunction(
        ([selector, count]) => document.querySelectorAll(selector).length > count,
        [`[data-testid=${table}] tbody tr`, before],
      );
    }
    assert.equal(await page.locator(`[data-testid=${table}] tbody tr`).count(), expected);
    assert.match(await page.textContent("[data-testid=list-end]"), new RegExp(`All ${expected} shown`));
  }

  test("the jobs list shows 100 at a time and 'Load more' reaches the 250th", async () => {
    await page.goto(server.url + "/jobs");
    await page.waitForSelector("[data-testid=load-more]");
    assert.equal(await page.locator("[data-testid=jobs-table] a:has-text('job-0249')").count(), 0);
    await loadAll("jobs-table", 250);
    await page.waitForSelector("[data-testid=jobs-table] a:has-text('job-0249')");
  });

  test("a server-side search finds the last job without paging", async () => {
    await page.goto(server.url + "/jobs?q=job-0249");
    await page.waitForSelector("[data-testid=jobs-table] a:has-text('job-0249')");
    assert.equal(await page.locator("[data-testid=jobs-table] tbody tr").count(), 1);
  });

  test("the endpoints list reaches the 150th with 'Load more'", async () => {
    await page.goto(server.url + "/endpoints");
    await page.waitForSelector("[data-testid=load-more]");
    await loadAll("endpoints-table", 150);
    await page.waitForSelector("[data-testid=endpoints-table] a:has-text('host-0149')");
  });

  test("no page threw", () => {
    assert.deepEqual(pageErrors, []);
  });
});
