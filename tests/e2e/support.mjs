// Shared pieces of the browser tests and the console benchmark: a real crontopus-server in a
// temporary data directory, Debian's Chromium driven by playwright-core, and small API helpers.
import { execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

// playwright-core lives in web/node_modules; the tests sit outside that package.
const require = createRequire(new URL("../../web/package.json", import.meta.url));
const { chromium } = require("playwright-core");

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const ARTIFACTS = join(ROOT, "test-artifacts");
export const CHROMIUM = process.env.CRONTOPUS_CHROMIUM ?? "/usr/bin/chromium";
export const PASSWORD = "correct horse battery staple";

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Start `crontopus-server serve --migrate` on a free port with a fresh data directory;
 * `settings(url)` adds CRONTOPUS_* variables that depend on the server's own address. */
export async function startServer({ settings = () => ({}) } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "crontopus-e2e-"));
  const port = await freePort();
  const bin = process.env.CRONTOPUS_SERVER ?? join(ROOT, ".venv/bin/crontopus-server");
  // Alert cycles every second, so incidents open while a test watches.
  const env = {
    ...process.env,
    CRONTOPUS_DATA_DIR: dataDir,
    CRONTOPUS_ALERT_INTERVAL: "1",
    ...settings(`http://127.0.0.1:${port}`),
  };
  delete env.CRONTOPUS_DATABASE_URL; // SQLite under the data directory
  const child = spawn(bin, ["--log-level", "warning", "serve", "--migrate", "--host", "127.0.0.1", "--port", String(port)], {
    env,
    stdio: ["ignore", "inherit", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`crontopus-server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const console = await fetch(`${url}/`);
  if (!console.ok) throw new Error(`the server does not serve the console: ${await console.text()}`);
  return {
    url,
    dataDir,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((resolve) => {
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
      });
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Launch Debian's Chromium headless, with nothing phoning home (playwright gives every
 * launch a fresh temporary profile, so no --user-data-dir is passed). */
export async function launchBrowser() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

/** Run a GraphQL operation against the server with a bearer token; fail on GraphQL errors. */
export async function graphql(url, token, query, variables = {}) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const request = () => fetch(`${url}/graphql`, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  let response;
  try {
    response = await request();
  } catch (error) {
    // The server closed an idle keep-alive socket as this request went out on it (a test that
    // ran a child process synchronously kept the event loop from noticing): it never read the
    // request, so sending it again on a new socket is safe.
    if (!["UND_ERR_SOCKET", "ECONNRESET"].includes(error?.cause?.code)) throw error;
    response = await request();
  }
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/** Register a user (who owns a new tenant) over the API; returns the access token. */
export async function register(url, username) {
  const data = await graphql(
    url,
    null,
    `mutation($u: String!, $e: String!, $p: String!) { register(username: $u, email: $e, password: $p) {
      __typename ... on AuthPayload { accessToken } ... on UserError { message } } }`,
    { u: username, e: `${username}@example.com`, p: PASSWORD },
  );
  if (data.register.__typename !== "AuthPayload") throw new Error(data.register.message);
  return data.register.accessToken;
}

/** Log a user in over the API (a session of its own, apart from the browser's); returns the access token. */
export async function login(url, username) {
  const data = await graphql(
    url,
    null,
    `mutation($u: String!, $p: String!) { login(username: $u, password: $p) {
      __typename ... on AuthPayload { accessToken } ... on UserError { message } } }`,
    { u: username, p: PASSWORD },
  );
  if (data.login.__typename !== "AuthPayload") throw new Error(data.login.message);
  return data.login.accessToken;
}

/** Create an API token with the CHECKIN scope; returns its plaintext. */
export async function checkinToken(url, accessToken) {
  const data = await graphql(
    url,
    accessToken,
    `mutation { createApiToken(name: "e2e-checkin", scopes: [CHECKIN]) {
      __typename ... on CreatedApiToken { plaintext } ... on UserError { message } } }`,
  );
  return data.createApiToken.plaintext;
}

/** Report a finished run over plain HTTP, as a cron one-liner would; returns its run id. */
export async function postCheckIn(url, token, jobId, exitCode = 0, output = "done\n", runId = randomUUID()) {
  const response = await fetch(`${url}/checkin/${jobId}/${exitCode}?rid=${runId}&duration=1.5`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
    body: output,
  });
  if (!response.ok) throw new Error(`check-in refused: ${response.status} ${await response.text()}`);
  return runId;
}

export function screenshotDir() {
  const dir = join(ARTIFACTS, "screenshots");
  mkdirSync(dir, { recursive: true });
  return dir;
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** Screenshot the page at desktop and phone size in both themes: `<name>-<size>-<theme>.png`.
 * `ready` runs after each change of size or theme (a page may lay out again). */
export async function screenshots(page, name, ready = async () => {}) {
  const dir = screenshotDir();
  const shots = [];
  for (const [size, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
    await page.setViewportSize(viewport);
    for (const theme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: theme });
      await page.waitForFunction((t) => document.documentElement.dataset.theme === t, theme);
      await ready();
      const path = join(dir, `${name}-${size}-${theme}.png`);
      await page.screenshot({ path, fullPage: true });
      shots.push(path);
    }
  }
  await page.setViewportSize(DESKTOP);
  await page.emulateMedia({ colorScheme: "light" });
  return shots;
}

/** Why the browser tests skip on this machine, or false when Chromium is at hand. */
export const noBrowser =
  !process.env.CRONTOPUS_CHROMIUM && !existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM}: apt-get install chromium`;

/**
 * A desktop page in the light theme, its uncaught errors collected in `pageErrors`, on which
 * `username` has just registered through the console and sees the dashboard.
 */
export async function registeredPage(browser, url, username, pageErrors) {
  const context = await browser.newContext({ viewport: DESKTOP, colorScheme: "light" });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (error) => pageErrors.push(error.message));
  await page.goto(`${url}/login`);
  await page.click("text=Register");
  await page.fill("input[name=username]", username);
  await page.fill("input[name=email]", `${username}@example.com`);
  await page.fill("input[name=password]", PASSWORD);
  await page.click("button:has-text('Register')");
  await page.waitForSelector("h1:has-text('Dashboard')");
  return { context, page };
}

/** Log a registered user in through the console's login page. */
export async function logInInBrowser(page, url, username) {
  await page.goto(`${url}/login`);
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", PASSWORD);
  await page.click("button:has-text('Log in')");
  await page.waitForSelector("h1:has-text('Dashboard')");
}

/** Make a registered user a platform operator, as the server's own command line does. */
export async function promoteOperator(server, username) {
  const bin = process.env.CRONTOPUS_SERVER ?? join(ROOT, ".venv/bin/crontopus-server");
  const env = { ...process.env, CRONTOPUS_DATA_DIR: server.dataDir };
  delete env.CRONTOPUS_DATABASE_URL; // SQLite under the data directory, as startServer runs it
  // Not execFileSync: a blocked event loop cannot see the server close an idle keep-alive
  // socket, and the next fetch then fails on it.
  await promisify(execFile)(bin, ["operator", "promote", username], { env });
}
