// The Secrets page in a real browser against a real server: a secret is set (its value never
// shown again), listed by name, replaced and deleted; the job form takes a secret reference and
// warns about a password written into the manifest.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { join } from "node:path";
import { graphql, launchBrowser, login, noBrowser, PASSWORD, register, screenshotDir, startServer } from "./support.mjs";

let server;
let chromium;
let context;
let page;
const pageErrors = [];
const VALUE = "hunter2-s3cr3t-value";

describe("the Secrets page", { skip: noBrowser }, () => {
  before(async () => {
    server = await startServer();
    chromium = await launchBrowser();
    context = await chromium.browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: "light" });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await register(server.url, "alice");
    await page.goto(server.url + "/login");
    await page.fill("input[name=username]", "alice");
    await page.fill("input[name=password]", PASSWORD);
    await page.click("button:has-text('Log in')");
    await page.waitForSelector("h1:has-text('Dashboard')");
  });

  after(async () => {
    await context?.close();
    await chromium?.close();
    await server?.stop();
  });

  test("a secret is set, listed by name only, replaced and deleted", async () => {
    await page.click("nav >> text=Secrets");
    await page.waitForSelector("h1:has-text('Secrets')");
    await page.waitForSelector("td:has-text('No secrets yet.')");
    await page.fill("input[aria-label='Secret name']", "db-password");
    await page.fill("textarea[aria-label='Secret value']", VALUE);
    await page.click("button:has-text('Set secret')");
    await page.waitForSelector("[role=status]:has-text('Secret db-password saved')");
    const row = page.locator("tr", { hasText: "db-password" });
    await row.waitFor();
    assert.equal(await row.locator("td").nth(2).textContent(), "alice");
    assert.equal(await page.inputValue("textarea[aria-label='Secret value']"), "", "the form forgets the value");
    assert.ok(!(await page.content()).includes(VALUE), "the value is nowhere on the page");

    // A bad name is refused by the server with the rule, shown once.
    await page.fill("input[aria-label='Secret name']", "bad.-name-");
    await page.fill("textarea[aria-label='Secret value']", "x".repeat(70 * 1024));
    await page.click("button:has-text('Set secret')");
    await page.waitForSelector("text=more than 65536 (64 KiB)");

    const api = await login(server.url, "alice");
    const listed = await graphql(server.url, api, "{ secrets { name updatedBy } }");
    assert.deepEqual(listed.secrets, [{ name: "db-password", updatedBy: "alice" }]);
    await page.screenshot({ path: join(screenshotDir(), "secrets-light.png"), fullPage: true });

    page.once("dialog", (dialog) => dialog.accept());
    await row.locator("button:has-text('Delete')").click();
    await row.waitFor({ state: "detached" });
    await page.waitForSelector("td:has-text('No secrets yet.')");
  });

  test("the job form references a secret and warns about a password in the manifest", async () => {
    await page.goto(server.url + "/jobs/new");
    await page.fill("input[name=name]", "db-dump");
    await page.fill("input[name=command]", "/opt/dump.sh");
    await page.fill("textarea[name=env]", "PGPASSWORD=hunter2");
    await page.fill("textarea[name=secretEnv]", "DB_TOKEN=db-token");
    await page.waitForSelector("[data-testid=manifest-warning]:has-text('spec.env.PGPASSWORD')");
    await page.waitForSelector("[data-testid=manifest-warning]:has-text('secret \"db-token\" does not exist')");
    await page.fill("textarea[name=env]", "");
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=manifest-warning]").length === 1);
    await page.click("button:has-text('Create job')");
    await page.waitForSelector("h1:has-text('db-dump')");
    assert.match(await page.textContent("[data-testid=yaml]"), /secretRef: db-token/);
    // Editing keeps the reference.
    await page.goto(page.url() + "/edit");
    await page.waitForSelector("h1:has-text('Edit db-dump')");
    assert.equal(await page.inputValue("textarea[name=secretEnv]"), "DB_TOKEN=db-token");
    assert.deepEqual(pageErrors, []);
  });
});
