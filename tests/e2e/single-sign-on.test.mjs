// Single sign-on in a real browser: the login page offers "Log in with <label>" for an OpenID
// Connect provider running beside the server (tests/oidc_provider.py: Authlib's server side,
// approving at once), and a click lands on the dashboard as the person the provider vouched for.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { graphql, launchBrowser, logInInBrowser, noBrowser, register, ROOT, screenshotDir, screenshots, startServer } from "./support.mjs";

// axe-core lives in web/node_modules (a devDependency of the console).
const require = createRequire(new URL("../../web/package.json", import.meta.url));
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

let provider;
let server;
let chromium;
let context;
let page;
const pageErrors = [];

/** Start the in-test provider; resolves with its issuer URL and a way to stop it. */
async function startProvider() {
  const python = process.env.CRONTOPUS_PYTHON ?? join(ROOT, ".venv/bin/python");
  const child = spawn(python, ["-m", "tests.oidc_provider", "--email", "dora@example.com", "--username", "dora"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`the OIDC provider exited with ${code}`)));
    lines.once("line", resolve);
  });
  return {
    issuer: JSON.parse(first).issuer,
    async stop() {
      child.kill("SIGTERM");
      if (child.exitCode === null) await new Promise((resolve) => child.once("exit", resolve));
    },
  };
}

describe("single sign-on", { skip: noBrowser }, () => {
  before(async () => {
    provider = await startProvider();
    server = await startServer({
      settings: () => ({
        CRONTOPUS_OIDC_PROVIDERS: "test",
        CRONTOPUS_OIDC_TEST_ISSUER: provider.issuer,
        CRONTOPUS_OIDC_TEST_CLIENT_ID: "crontopus",
        CRONTOPUS_OIDC_TEST_CLIENT_SECRET: "provider-client-secret",
        CRONTOPUS_OIDC_TEST_LABEL: "Test ID",
      }),
    });
    chromium = await launchBrowser();
    context = await chromium.browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: "light" });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on("pageerror", (error) => pageErrors.push(error.message));
  });

  after(async () => {
    await context?.close();
    await chromium?.close();
    await server?.stop();
    await provider?.stop();
  });

  test("the login page offers the provider, in light and dark mode (screenshots in test-artifacts/)", async () => {
    // A context of its own that lets axe-core in past the Content-Security-Policy.
    const checking = await chromium.browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
    const view = await checking.newPage();
    try {
      for (const scheme of ["light", "dark"]) {
        await view.emulateMedia({ colorScheme: scheme });
        await view.goto(server.url + "/login");
        await view.waitForSelector("a:has-text('Log in with Test ID')");
        assert.equal(await view.evaluate(() => document.documentElement.dataset.theme), scheme);
        await view.screenshot({ path: join(screenshotDir(), `login-sso-${scheme}.png`) });
        // The buttons keep the page accessible (WCAG 2.x A and AA, serious and critical).
        await view.addScriptTag({ content: AXE });
        const found = await view.evaluate(async () => {
          const tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];
          const result = await window.axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
          return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.help}`);
        });
        assert.deepEqual(found, [], `the login page (${scheme})`);
      }
    } finally {
      await checking.close();
    }
  });

  test("logging in with the provider lands on the dashboard, logged in as the person it vouched for", async () => {
    await page.goto(server.url + "/login");
    await page.click("a:has-text('Log in with Test ID')");
    await page.waitForSelector("h1:has-text('Dashboard')");
    assert.equal(new URL(page.url()).pathname, "/");
    await page.waitForSelector("aside.sidebar span.small:has-text('dora')");
    // The session survives a reload: the refresh cookie set by the callback brings it back.
    await page.reload();
    await page.waitForSelector("h1:has-text('Dashboard')");
    const cookies = await context.cookies(server.url + "/auth/refresh");
    assert.ok(cookies.some((c) => c.name === "crontopus_refresh" && c.httpOnly));
    const { identityProviders } = await graphql(server.url, null, "{ identityProviders { name label startUrl } }");
    assert.deepEqual(identityProviders, [{ name: "test", label: "Test ID", startUrl: `${server.url}/auth/oidc/test/start` }]);
    assert.deepEqual(pageErrors, []);
  });

  test("an admin logged in with a password sees SSO-only off and is told to log in with the provider first", async () => {
    await register(server.url, "pam");
    const own = await chromium.browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: "light" });
    try {
      const tab = await own.newPage();
      tab.setDefaultTimeout(10_000);
      await logInInBrowser(tab, server.url, "pam");
      await tab.goto(server.url + "/members");
      await tab.waitForSelector("[data-testid=sso-only-state]:has-text('may log in with a password')");
      await tab.selectOption("select[aria-label='Identity provider']", "test");
      await tab.click("button:has-text('Require single sign-on')");
      await tab.waitForSelector("[data-testid=sso-only] [role=alert]:has-text('log in with Test ID first')");
      await tab.waitForSelector("[data-testid=sso-only-state]:has-text('may log in with a password')");
    } finally {
      await own.close();
    }
  });

  test("an admin logged in through the provider turns SSO-only on and off, in light and dark mode (screenshots)", async () => {
    // `page` is dora's session, opened with Test ID; she owns her tenant.
    await page.goto(server.url + "/members");
    await page.click("button:has-text('Require single sign-on')");
    const on = "[data-testid=sso-only-state]:has-text('members log in with Test ID alone')";
    await page.waitForSelector(on);
    await page.waitForSelector("[role=status]:has-text('Members now log in with Test ID only')");
    await screenshots(page, "members-sso-only", () => page.waitForSelector(on));
    // A reload reads the state back from the server.
    await page.reload();
    await page.waitForSelector(on);
    await page.click("button:has-text('Allow passwords again')");
    await page.waitForSelector("[data-testid=sso-only-state]:has-text('may log in with a password')");
    assert.deepEqual(pageErrors, []);
  });

  test("a refused login comes back to the login page with the reason", async () => {
    await context.clearCookies();
    await page.goto(`${server.url}/auth/oidc/test/callback?code=stolen&state=guessed`);
    await page.waitForSelector("text=this browser has no login with Test ID in progress");
    assert.equal(new URL(page.url()).pathname, "/login");
    await page.waitForSelector("a:has-text('Log in with Test ID')");
  });
});
