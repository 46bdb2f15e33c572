// The operator's console pages in a real browser against a real server: a platform operator
// (promoted with `crontopus-server operator promote`) sees every tenant with its usage, suspends
// one, sets its quotas, exports and downloads it, deletes it after typing its slug, resumes
// another, and reads the system health and the operator audit log; someone else sees no such page.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { launchBrowser, logInInBrowser, noBrowser, promoteOperator, register, screenshots, startServer } from "./support.mjs";

let server;
let chromium;
let context;
let page;
const pageErrors = [];

const row = (slug) => page.locator(`[data-testid=tenant-${slug}]`);

describe("the operator pages", { skip: noBrowser }, () => {
  before(async () => {
    server = await startServer();
    for (const name of ["ops", "acme", "beta"]) await register(server.url, name);
    await promoteOperator(server, "ops");
    chromium = await launchBrowser();
    context = await chromium.browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: "light", acceptDownloads: true });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await logInInBrowser(page, server.url, "ops");
  });

  after(async () => {
    await context?.close();
    await chromium?.close();
    await server?.stop();
  });

  test("an operator lists the tenants with their usage and suspends, limits, exports and deletes one", async () => {
    await page.click("nav >> text=Operator");
    await page.waitForSelector("h1:has-text('Operator')");
    for (const slug of ["ops", "acme", "beta"]) await row(slug).waitFor();
    assert.match(await row("acme").textContent(), /ACTIVE/);
    await screenshots(page, "operator-tenants", () => row("acme").waitFor());

    page.once("dialog", (dialog) => dialog.accept("Unpaid invoice"));
    await row("acme").locator("button:has-text('Suspend')").click();
    await page.waitForSelector("[role=status]:has-text('acme is suspended')");
    await row("acme").locator("text=SUSPENDED").waitFor();
    assert.match(await row("acme").textContent(), /Unpaid invoice/);

    await row("acme").locator("button:has-text('Quotas')").click();
    await page.fill("[data-testid=quota-editor] input[name=JOBS]", "5");
    await screenshots(page, "operator-quotas", () => page.waitForSelector("[data-testid=quota-editor]"));
    await page.click("button:has-text('Save quotas')");
    await page.waitForSelector("[role=status]:has-text('Quotas of acme saved')");
    await row("acme").locator("button:has-text('Quotas')").click();
    assert.equal(await page.inputValue("[data-testid=quota-editor] input[name=JOBS]"), "5");
    await row("acme").locator("button:has-text('Quotas')").click();

    await row("acme").locator("button:has-text('Export')").click();
    await page.waitForSelector("[role=status]:has-text('acme is exported')");
    const [download] = await Promise.all([page.waitForEvent("download"), row("acme").locator("button:has-text('Download')").click()]);
    assert.equal(download.suggestedFilename(), "crontopus-acme-export.tar.gz");
    assert.ok((await download.path()) !== null);

    await row("acme").locator("button:has-text('Delete')").click();
    const dialog = page.locator("[role=dialog]");
    const confirm = dialog.locator("button:has-text('Delete acme')");
    assert.equal(await confirm.isDisabled(), true, "nothing is deleted before the slug is typed");
    await page.fill("input[aria-label='Slug to confirm']", "acm");
    assert.equal(await confirm.isDisabled(), true);
    await page.fill("input[aria-label='Slug to confirm']", "acme");
    await screenshots(page, "operator-delete", () => dialog.waitFor());
    await confirm.click();
    await page.waitForSelector("[role=status]:has-text('acme is deleted')");
    await row("acme").waitFor({ state: "detached" });

    page.once("dialog", (d) => d.accept(""));
    await row("beta").locator("button:has-text('Suspend')").click();
    await row("beta").locator("text=SUSPENDED").waitFor();
    await row("beta").locator("button:has-text('Resume')").click();
    await row("beta").locator("text=ACTIVE").waitFor();
  });

  test("the system health and the operator audit log", async () => {
    await page.click("a:has-text('System health')");
    await page.waitForSelector("[data-testid=system-health] .tile");
    assert.match(await page.textContent("[data-testid=system-health]"), /database \(sqlite/);
    await screenshots(page, "operator-health", () => page.waitForSelector("[data-testid=system-health]"));

    await page.click("a:has-text('Operator audit log')");
    const audit = page.locator("[data-testid=operator-audit]");
    await audit.locator("td:has-text('tenant.delete')").waitFor();
    const text = await audit.textContent();
    for (const action of ["tenant.suspend", "tenant.quotas", "tenant.export", "tenant.delete", "tenant.resume"]) {
      assert.ok(text.includes(action), `${action} in the operator audit log: ${text}`);
    }
    await screenshots(page, "operator-audit", () => audit.waitFor());
    assert.deepEqual(pageErrors, []);
  });

  test("someone who is not an operator sees no operator page", async () => {
    const other = await chromium.browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const tab = await other.newPage();
      tab.setDefaultTimeout(10_000);
      await logInInBrowser(tab, server.url, "beta");
      await tab.waitForSelector("nav >> text=Members");
      assert.equal(await tab.locator("nav >> text=Operator").count(), 0);
      await tab.goto(server.url + "/operator");
      await tab.waitForSelector("[role=alert]");
      assert.match(await tab.textContent("[role=alert]"), /operator/i);
    } finally {
      await other.close();
    }
  });
});
