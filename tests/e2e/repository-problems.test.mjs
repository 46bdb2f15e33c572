// A forge commit that Crontopus does not adopt, as the console shows it: a real server with the
// external Git store over a real forge (git http-backend), a push of an invalid manifest there,
// and the banner on the jobs list and the job page until a fix is pushed. Accessibility is
// checked on both pages with the banner up (axe-core, WCAG 2.x A and AA, both sizes and themes).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { after, before, describe, test } from "node:test";
import { startForge } from "./forge.mjs";
import { DESKTOP, graphql, launchBrowser, logInInBrowser, noBrowser, PHONE, register, screenshots, startServer } from "./support.mjs";

const require = createRequire(new URL("../../web/package.json", import.meta.url));
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

const TENANT = "rhea";
const PROBLEMS = "{ repositoryProblems { file path message } repository { headCommit pendingCommit } }";

function manifest(name, id, schedule = "0 2 * * *") {
  return `apiVersion: crontopus.io/v1\nkind: Job\nmetadata:\n  id: ${id}\n  name: ${name}\n  namespace: default\nspec:\n  schedule: "${schedule}"\n  command: /opt/scripts/${name}.sh\n`;
}

/** Wait until `check()` answers something truthy (the webhook's fetch runs in the background). */
async function eventually(check, within = 20_000) {
  const deadline = Date.now() + within;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("the change did not arrive in time");
    await new Promise((r) => setTimeout(r, 200));
  }
}

let forge;
let server;
let chromium;
let context;
let page;
let token;
let jobId;
let served;
let pushed;
const pageErrors = [];

/** Serious and critical axe violations of the page as it is, at both sizes in both themes. */
async function violations(label) {
  await page.addScriptTag({ content: AXE });
  const found = [];
  for (const [size, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
    await page.setViewportSize(viewport);
    for (const theme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: theme });
      await page.waitForFunction((t) => document.documentElement.dataset.theme === t, theme);
      const seen = await page.evaluate(async (tags) => {
        const result = await window.axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
        return result.violations
          .filter((v) => v.impact === "serious" || v.impact === "critical")
          .map((v) => `${v.id} (${v.help}) at ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
      }, TAGS);
      found.push(...seen.map((v) => `${label} ${size} ${theme}: ${v}`));
    }
  }
  await page.setViewportSize(DESKTOP);
  await page.emulateMedia({ colorScheme: "light" });
  return found;
}

describe("repository problems in the console", { skip: noBrowser }, () => {
  before(async () => {
    forge = await startForge();
    await forge.create(TENANT);
    server = await startServer({ settings: () => forge.settings() });
    chromium = await launchBrowser();
    token = await register(server.url, TENANT);
    const created = await graphql(
      server.url,
      token,
      `mutation { createJob(input: {name: "backup", schedule: "0 2 * * *", command: "/opt/scripts/backup.sh"}) {
        __typename ... on Job { id } ... on UserError { message } } }`,
    );
    assert.equal(created.createJob.__typename, "Job", JSON.stringify(created));
    jobId = created.createJob.id;
    served = (await graphql(server.url, token, PROBLEMS)).repository.headCommit;
    // axe-core is injected as a script, which the console's Content-Security-Policy refuses.
    context = await chromium.browser.newContext({ viewport: DESKTOP, colorScheme: "light", bypassCSP: true });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await logInInBrowser(page, server.url, TENANT);
  });

  after(async () => {
    await context?.close();
    await chromium?.close();
    await server?.stop();
    await forge?.stop();
  });

  test("with every commit adopted there is no banner", async () => {
    await page.goto(`${server.url}/jobs`);
    await page.waitForSelector("[data-testid=jobs-table] a:has-text('backup')");
    // The banner's query has answered once the job page's own has; give it a moment more.
    await page.waitForLoadState("networkidle");
    assert.equal(await page.locator("[data-testid=repository-problems]").count(), 0);
  });

  test("a forge commit with an invalid manifest shows on the jobs list: which commit, each problem, the fix", async () => {
    pushed = await forge.push(TENANT, { "default/db.yaml": manifest("db", randomUUID(), "5/15 * * * *") }, "add db");
    await forge.webhook(server.url, TENANT);
    const answer = await eventually(async () => {
      const data = await graphql(server.url, token, PROBLEMS);
      return data.repository.pendingCommit === pushed && data;
    });
    assert.equal(answer.repository.headCommit, served);

    await page.goto(`${server.url}/jobs`);
    const banner = page.locator("[data-testid=repository-problems]");
    await banner.waitFor();
    assert.equal(await banner.getAttribute("role"), "alert");
    assert.equal(
      await banner.locator("h2").textContent(),
      `The repository's latest commit ${pushed.slice(0, 8)} was not adopted`,
    );
    assert.equal(await banner.getByTestId("pending-commit").getAttribute("title"), pushed);
    const text = await banner.textContent();
    assert.match(text, new RegExp(`keeps serving commit ${served.slice(0, 8)}`));
    // A line names the forge's repository (where the fix goes), then every problem is listed.
    const note = await banner.getByTestId("repository-note").textContent();
    assert.ok(note.includes(forge.url(TENANT, false)) && note.includes(pushed.slice(0, 12)), note);
    const items = await banner.locator("li").allTextContents();
    assert.ok(items.some((i) => i.startsWith("default/db.yaml spec.schedule: ") && i.includes("5/15 * * * *")), items.join("\n"));
    assert.equal(items.length, answer.repositoryProblems.filter((p) => p.file).length);
    assert.match(text, /until the problem below is fixed/);
    assert.match(text, /push the fix to the repository/);
    // The last valid commit is still served: the job made before is listed, the new one is not.
    await page.waitForSelector("[data-testid=jobs-table] a:has-text('backup')");
    assert.equal(await page.locator("[data-testid=jobs-table] a:has-text('db')").count(), 0);
    await screenshots(page, "repository-problems-jobs");
    assert.deepEqual(await violations("/jobs"), []);
  });

  test("the job page shows the banner too, under the job's heading", async () => {
    await page.goto(`${server.url}/jobs/${jobId}`);
    await page.waitForSelector("h1:has-text('backup')");
    const banner = page.locator("[data-testid=repository-problems]");
    await banner.waitFor();
    assert.match(await banner.locator("h2").textContent(), new RegExp(pushed.slice(0, 8)));
    // After the heading, so the page's outline starts with the job.
    assert.ok(await page.evaluate(() => {
      const h1 = document.querySelector("main h1");
      const section = document.querySelector("[data-testid=repository-problems]");
      return Boolean(h1.compareDocumentPosition(section) & Node.DOCUMENT_POSITION_FOLLOWING);
    }));
    assert.deepEqual(await violations(`/jobs/${jobId}`), []);
  });

  test("once a fix is pushed, checking again takes the banner away and the fixed job is listed", async () => {
    await page.goto(`${server.url}/jobs`);
    const banner = page.locator("[data-testid=repository-problems]");
    await banner.waitFor();
    const fixed = await forge.push(TENANT, { "default/db.yaml": manifest("db", randomUUID()) }, "fix db's schedule");
    await forge.webhook(server.url, TENANT);
    await eventually(async () => (await graphql(server.url, token, PROBLEMS)).repository.headCommit === fixed);
    // The page asks again on request, without a reload.
    await banner.getByRole("button", { name: "Check again" }).click();
    await banner.waitFor({ state: "detached" });
    await page.reload();
    await page.waitForSelector("[data-testid=jobs-table] a:has-text('db')");
    await page.waitForLoadState("networkidle");
    assert.equal(await banner.count(), 0);
    assert.deepEqual(pageErrors, []);
  });
});
