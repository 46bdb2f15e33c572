// Every list pages: namespaces, members, API tokens, incidents and the delivery log of a tenant
// with 120 of each show a page at a time, reach the last one with "Load more", and search or
// filter on the server.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { launchBrowser, noBrowser, PASSWORD, register, ROOT, screenshotDir, startServer } from "./support.mjs";

const COUNT = 120;
let server;
let chromium;
let page;
const pageErrors = [];

/** Click "Load more" inside `scope` until the list ends; return the number of rows. */
async function loadAll(scope, table) {
  const rows = page.locator(`${scope} [data-testid=${table}] tbody tr`);
  const more = page.locator(`${scope} [data-testid=load-more]`);
  await rows.first().waitFor();
  while (await more.count()) {
    const shown = await rows.count();
    await more.click();
    await page.waitForFunction(([selector, count]) => document.querySelectorAll(selector).length > count, [`${scope} [data-testid=${table}] tbody tr`, shown]);
  }
  const total = await rows.count();
  assert.match(await page.locator(`${scope} [data-testid=list-end]`).textContent(), new RegExp(`All ${total} shown`));
  return total;
}

async function search(text) {
  await page.fill("main form[role=search] input[name=q]", text);
  await page.press("main form[role=search] input[name=q]", "Enter");
}

describe("every list pages", { skip: noBrowser }, () => {
  before(async () => {
    server = await startServer();
    await register(server.url, "hana");
    const seeded = spawnSync(join(ROOT, ".venv/bin/python"), [join(ROOT, "tests/e2e/seed_lists.py"), server.dataDir, "hana", String(COUNT)]);
    assert.equal(seeded.status, 0, String(seeded.stderr));
    chromium = await launchBrowser();
    const context = await chromium.browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(`${server.url}/login`);
    await page.fill("input[name=username]", "hana");
    await page.fill("input[name=password]", PASSWORD);
    await page.click("button:has-text('Log in')");
    await page.waitForSelector("h1:has-text('Dashboard')");
  });

  after(async () => {
    await chromium?.close();
    await server?.stop();
  });

  test("namespaces: 100 at a time, the last by 'Load more', one by search", async () => {
    await page.goto(`${server.url}/namespaces`);
    await page.waitForSelector("[data-testid=namespaces-table] tbody tr >> nth=99");
    assert.equal(await page.locator("[data-testid=namespaces-table] tbody tr").count(), 100);
    const total = await loadAll("main", "namespaces-table");
    assert.ok(total >= COUNT, `${total} namespaces`);
    await page.waitForSelector("[data-testid=namespaces-table] a:has-text('team-0119')");
    await search("TEAM-0119");
    await page.waitForURL(/\/namespaces\?q=TEAM-0119$/);
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=namespaces-table] tbody tr").length === 1);
    assert.match(await page.textContent("[data-testid=namespaces-table] tbody"), /team-0119/);
  });

  test("members: by user name, the last by 'Load more', searched by e-mail and filtered by role", async () => {
    await page.goto(`${server.url}/members`);
    const total = await loadAll("main", "members");
    assert.equal(total, COUNT + 1);
    await search("user-0042@example");
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=members] tbody tr").length === 1);
    assert.match(await page.textContent("[data-testid=members] tbody"), /user-0042/);
    await page.goto(`${server.url}/members?role=OWNER`);
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=members] tbody tr").length === 1);
    assert.match(await page.textContent("[data-testid=members] tbody"), /hana/);
  });

  test("API tokens: newest first, the oldest by 'Load more', one by search", async () => {
    await page.goto(`${server.url}/tokens`);
    await page.waitForSelector("[data-testid=tokens-table] tbody tr");
    assert.match(await page.textContent("[data-testid=tokens-table] tbody tr:first-child"), /token-0119/);
    assert.equal(await loadAll("main", "tokens-table"), COUNT);
    assert.match(await page.textContent("[data-testid=tokens-table] tbody tr:last-child"), /token-0000/);
    await search("token-0007");
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=tokens-table] tbody tr").length === 1);
  });

  test("incidents and the delivery log: 50 at a time, the last by 'Load more', searched and filtered on the server", async () => {
    await page.goto(`${server.url}/alerts`);
    await page.selectOption("select[aria-label='Incident status']", "RESOLVED");
    const incidents = "section:has([data-testid=incidents])";
    await page.waitForSelector(`${incidents} [data-testid=incidents] tbody tr >> nth=49`);
    assert.equal(await page.locator(`${incidents} [data-testid=incidents] tbody tr`).count(), 50);
    assert.equal(await loadAll(incidents, "incidents"), COUNT);
    await page.fill("input[aria-label='Search incidents']", "JOB-0003");
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=incidents] tbody tr").length === 1);

    const log = "section:has([data-testid=deliveries])";
    await page.waitForSelector(`${log} [data-testid=deliveries] tbody tr >> nth=49`);
    assert.equal(await loadAll(log, "deliveries"), COUNT);
    await page.selectOption("select[aria-label='Delivery status']", "FAILED");
    await page.waitForSelector("text=No delivery with that status.");
    await page.screenshot({ path: join(screenshotDir(), "lists-alerts-light.png"), fullPage: true });
    assert.deepEqual(pageErrors, []);
  });
});
