// Keyboard comfort in a real browser: "?" lists every shortcut, and Ctrl-K opens a palette that
// finds jobs and endpoints on the server and jumps to them, or to any page.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { graphql, launchBrowser, login, noBrowser, registeredPage, screenshotDir, startServer } from "./support.mjs";

let server;
let chromium;
let context;
let page;
let api;
const jobs = {};
const pageErrors = [];

describe("shortcut list and palette", { skip: noBrowser }, () => {
  before(async () => {
    server = await startServer();
    chromium = await launchBrowser();
    ({ context, page } = await registeredPage(chromium.browser, server.url, "erin", pageErrors));
    api = await login(server.url, "erin");
    for (const name of ["nightly-backup", "log-rotate", "backup-verify"]) {
      const data = await graphql(
        server.url,
        api,
        `mutation($name: String!) { createJob(input: {name: $name, schedule: "0 3 * * *", command: "/bin/true"}) {
          __typename ... on Job { id } } }`,
        { name },
      );
      jobs[name] = data.createJob.id;
    }
  });

  after(async () => {
    await context?.close();
    await chromium?.close();
    await server?.stop();
  });

  test("? lists every shortcut, Esc closes the list and gives focus back", async () => {
    await page.goto(`${server.url}/jobs`);
    await page.waitForSelector("[data-testid=jobs-table] tbody tr");
    await page.locator("body").click({ position: { x: 5, y: 5 } });
    await page.keyboard.press("?");
    const dialog = page.getByRole("dialog", { name: "Keyboard shortcuts" });
    await dialog.waitFor();
    const rows = await page.$$eval("[data-testid=shortcut-list] tr", (trs) => trs.map((tr) => tr.textContent.replace(/\s+/g, " ").trim()));
    for (const expected of [/Ctrl \+ K\s?Jump to a job, endpoint or page/, /g then j\s?Go to Jobs/, /g then n\s?Go to New job/, /\/\s?Focus the page's search field/, /\?\s?Show these shortcuts/]) {
      assert.ok(rows.some((row) => expected.test(row)), `no ${expected} in ${JSON.stringify(rows)}`);
    }
    assert.equal(rows.filter((row) => /then/.test(row)).length, 10);
    for (const scheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.screenshot({ path: join(screenshotDir(), `comfort-shortcuts-${scheme}.png`) });
    }
    await page.emulateMedia({ colorScheme: "light" });
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });

    // Typing "?" into a field types it; no list opens.
    await page.fill("input[aria-label=Search]", "");
    await page.focus("input[aria-label=Search]");
    await page.keyboard.type("?");
    assert.equal(await page.inputValue("input[aria-label=Search]"), "?");
    assert.equal(await page.getByRole("dialog").count(), 0);
  });

  test("Ctrl-K finds jobs on the server and jumps to the one chosen with the arrow keys", async () => {
    await page.goto(`${server.url}/`);
    await page.waitForSelector("h1:has-text('Dashboard')");
    await page.keyboard.press("Control+k");
    const input = page.getByTestId("palette-input");
    await input.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), "palette-input");
    await input.fill("backup");
    await page.waitForSelector("[data-testid=palette-list] li[data-kind=job] >> nth=1");
    const found = await page.$$eval("[data-testid=palette-list] li[data-kind=job]", (lis) => lis.map((li) => li.textContent));
    assert.equal(found.length, 2);
    assert.ok(found.every((text) => /backup/.test(text)), JSON.stringify(found));
    await page.screenshot({ path: join(screenshotDir(), "comfort-palette-light.png") });
    await page.keyboard.press("ArrowDown");
    const second = await page.textContent("[data-testid=palette-list] li[aria-selected=true]");
    await page.keyboard.press("Enter");
    const name = second.includes("nightly-backup") ? "nightly-backup" : "backup-verify";
    await page.waitForURL(`**/jobs/${jobs[name]}`);
    await page.waitForSelector(`h1:has-text('${name}')`);
  });

  test("the palette jumps to pages by name, and ⌘K opens it too", async () => {
    await page.keyboard.press("Meta+k");
    await page.getByTestId("palette-input").fill("audit");
    await page.waitForSelector("[data-testid=palette-list] li[data-kind=page]:has-text('Audit')");
    await page.keyboard.press("Enter");
    await page.waitForURL("**/audit");
    // At phone size the palette still fits the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.keyboard.press("Control+k");
    await page.getByTestId("palette-input").fill("zzz-nothing");
    await page.waitForSelector("text=Nothing matches");
    await page.emulateMedia({ colorScheme: "dark" });
    await page.screenshot({ path: join(screenshotDir(), "comfort-palette-phone-dark.png") });
    await page.keyboard.press("Escape");
    assert.equal(await page.getByRole("dialog").count(), 0);
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.emulateMedia({ colorScheme: "light" });
    assert.deepEqual(pageErrors, []);
  });
});
