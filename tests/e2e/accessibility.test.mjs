// Accessibility, in a real browser against a real server: axe-core checks every page of the
// console at desktop and phone size in both themes, and any serious or critical violation fails
// the run with where it is. Each page loads once per size; the theme switches in place.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { after, before, describe, test } from "node:test";
import { checkinToken, DESKTOP, graphql, launchBrowser, logInInBrowser, noBrowser, PHONE, postCheckIn, promoteOperator, register, startServer } from "./support.mjs";

// axe-core lives in web/node_modules (a devDependency of the console).
const require = createRequire(new URL("../../web/package.json", import.meta.url));
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

let server;
let chromium;
let context;
let page;
let jobId;
let runId;
let endpointId;

// Every WCAG 2.x A and AA rule; a change of theme changes only colours, so the second theme
// runs the rules about colour (which keeps the file near half a minute on two cores).
const ALL = { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] };
const COLOUR = { type: "rule", values: ["color-contrast", "link-in-text-block", "non-text-contrast"] };

/** Run axe on the page as it is; returns the serious and critical violations, one line each. */
async function violations(label, runOnly) {
  const found = await page.evaluate(async (only) => {
    const known = new Set(window.axe.getRules().map((r) => r.ruleId));
    if (only.type === "rule") only = { ...only, values: only.values.filter((id) => known.has(id)) };
    const result = await window.axe.run(document, { runOnly: only, resultTypes: ["violations"] });
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  }, runOnly);
  return found.map((v) => `${label}: ${v.impact} ${v.id} (${v.help}) at ${v.targets.join(" | ")}`);
}

/** Show `path` and check it at both sizes in both themes. The console's own router moves
 * between pages (no reload), so axe is injected once per document, not once per check. */
async function check(path, { reload = false } = {}) {
  if (reload || !(await page.evaluate(() => "axe" in window))) {
    await page.goto(server.url + path);
    await page.addScriptTag({ content: AXE });
  } else {
    await page.evaluate((to) => {
      history.pushState(null, "", to);
      dispatchEvent(new PopStateEvent("popstate"));
    }, path);
  }
  await page.waitForFunction((to) => location.pathname === to && document.querySelector("main h1, .auth-card h1"), path);
  // The page's data has arrived once no "Loading…" is left.
  await page.waitForFunction(() => ![...document.querySelectorAll("main p.muted")].some((p) => p.textContent === "Loading…"));
  const problems = [];
  for (const [size, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
    await page.setViewportSize(viewport);
    for (const theme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: theme });
      // The shell follows the system theme by itself; the login page is themed once at load.
      await page.evaluate((t) => (document.documentElement.dataset.theme = t), theme);
      problems.push(...(await violations(`${path} ${size} ${theme}`, theme === "light" ? ALL : COLOUR)));
    }
  }
  await page.setViewportSize(DESKTOP);
  return problems;
}

describe("accessibility of every page", { skip: noBrowser }, () => {
  before(async () => {
    server = await startServer();
    chromium = await launchBrowser();
    // The check injects axe as a script, which the console's Content-Security-Policy rightly
    // refuses; the pages themselves are unchanged.
    context = await chromium.browser.newContext({ viewport: DESKTOP, bypassCSP: true });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const token = await register(server.url, "jules");
    await promoteOperator(server, "jules"); // so the operator pages are checked too
    const created = await graphql(
      server.url,
      token,
      `mutation { createJob(input: {name: "nightly-backup", namespace: "default", schedule: "0 2 * * *", command: "/opt/backup.sh",
        labels: [{key: "team", value: "ops"}]}) { ... on Job { id } } }`,
    );
    jobId = created.createJob.id;
    runId = await postCheckIn(server.url, await checkinToken(server.url, token), jobId, 1, "it failed\n");
    const made = await graphql(server.url, token, `mutation { createEnrollmentToken(name: "a11y") { ... on CreatedEnrollmentToken { plaintext } } }`);
    const enrolled = await graphql(
      server.url,
      null,
      `mutation($t: String!) { enrollEndpoint(enrollmentToken: $t, name: "web-1", hostname: "web-1.example.com",
        platform: "linux", machineId: "a11y-machine-0001", agentVersion: "0.1.0", drivers: ["cron"]) {
        ... on EnrolledEndpoint { endpoint { id } } } }`,
      { t: made.createEnrollmentToken.plaintext },
    );
    endpointId = enrolled.enrollEndpoint.endpoint.id;
    await graphql(server.url, token, `mutation { createChannel(input: {name: "ops", kind: SLACK, config: {url: "https://hooks.slack.com/services/T0/B0/X"}}) { __typename } }`).catch(() => {});
  });

  after(async () => {
    await context?.close();
    await chromium?.close();
    await server?.stop();
  });

  test("the login, register and account-mail pages have no serious or critical violations", async () => {
    const problems = [];
    for (const path of ["/login", "/register", "/forgot-password", "/reset-password", "/verify-email", "/accept-invitation"])
      problems.push(...(await check(path, { reload: true })));
    assert.deepEqual(problems, []);
  });

  test("every page of the console has no serious or critical violations, at desktop and phone size, light and dark", async () => {
    await logInInBrowser(page, server.url, "jules");
    const pages = [
      "/",
      "/runs",
      `/runs/${runId}`,
      "/health-report",
      "/alerts",
      "/jobs",
      "/jobs/new",
      `/jobs/${jobId}`,
      `/jobs/${jobId}/edit`,
      "/endpoints",
      `/endpoints/${endpointId}`,
      "/namespaces",
      "/secrets",
      "/tokens",
      "/members",
      "/audit",
      "/install",
      "/account",
      "/operator",
      "/operator/health",
      "/operator/audit",
      "/no-such-page",
    ];
    const problems = [];
    for (const path of pages) problems.push(...(await check(path)));
    assert.deepEqual(problems, []);
  });
});
