// The console's layout in a real browser against a real server: no blank band under the phone's
// top bar, no page that scrolls sideways, code that stays inside its card, label chips apart from
// job names, dates on one line, audit actors by name, and a check-in for a job Git does not hold
// shown as an unknown job on Health. Screenshots at desktop and phone size in both themes.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { checkinToken, DESKTOP, graphql, launchBrowser, logInInBrowser, noBrowser, PHONE, postCheckIn, register, screenshots, startServer } from "./support.mjs";

let server;
let chromium;
let page;
let token;
let jobId;
let unknownJobId;
const pageErrors = [];

const PAGES = ["/", "/runs", "/health-report", "/alerts", "/jobs", "/endpoints", "/namespaces", "/secrets", "/tokens", "/members", "/audit", "/install", "/account"];

async function open(path) {
  await page.goto(server.url + path);
  await page.waitForSelector("main h1");
}

describe("the console's layout", { skip: noBrowser }, () => {
  before(async () => {
    server = await startServer();
    chromium = await launchBrowser();
    const context = await chromium.browser.newContext({ viewport: DESKTOP });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on("pageerror", (error) => pageErrors.push(error.message));
    token = await register(server.url, "gwen");
    // A long command and labels: what overflowed cards and crowded names.
    const long = "/opt/scripts/a-rather-long-path/that-goes-on/and-on/export-everything-to-the-archive.sh --with-a-very-long-flag=value";
    const created = await graphql(
      server.url,
      token,
      `mutation($c: String!) { createJob(input: {name: "archive-export", namespace: "default", schedule: "0 3 * * *", command: $c,
        labels: [{key: "team", value: "data"}, {key: "tier", value: "gold"}]}) { ... on Job { id } ... on UserError { message } } }`,
      { c: long },
    );
    jobId = created.createJob.id;
    // A member with a long e-mail address (the table that scrolled sideways).
    const other = "henrietta-with-a-long-name";
    await register(server.url, other);
    await graphql(server.url, token, `mutation { addMember(username: "${other}", role: VIEWER) { __typename } }`);
    // An endpoint that acts, so the audit log has an endpoint actor.
    const made = await graphql(server.url, token, `mutation { createEnrollmentToken(name: "layout") { ... on CreatedEnrollmentToken { plaintext } } }`);
    const enrolled = await graphql(
      server.url,
      null,
      `mutation($t: String!) { enrollEndpoint(enrollmentToken: $t, name: "db-primary", hostname: "db-primary.example.com",
        platform: "linux", machineId: "layout-machine-0001", agentVersion: "0.1.0", drivers: ["cron"]) {
        ... on EnrolledEndpoint { endpointToken } } }`,
      { t: made.createEnrollmentToken.plaintext },
    );
    await graphql(server.url, enrolled.enrollEndpoint.endpointToken, "mutation { unenrollEndpoint { __typename } }");
    // Runs: one of the job, one of a job id that no manifest in Git has.
    const checkin = await checkinToken(server.url, token);
    await postCheckIn(server.url, checkin, jobId);
    unknownJobId = randomUUID();
    await postCheckIn(server.url, checkin, unknownJobId);
    await logInInBrowser(page, server.url, "gwen");
  });

  after(async () => {
    await chromium?.close();
    await server?.stop();
  });

  test("on a phone the page starts right under the top bar", async () => {
    await page.setViewportSize(PHONE);
    await open("/");
    const [barBottom, mainTop] = await page.evaluate(() => [
      document.querySelector(".sidebar").getBoundingClientRect().bottom,
      document.querySelector("main").getBoundingClientRect().top,
    ]);
    assert.ok(Math.abs(mainTop - barBottom) <= 1, `top bar ends at ${barBottom}, the page starts at ${mainTop}`);
    assert.ok(barBottom < 120, `the top bar is ${barBottom}px tall`);
  });

  test("no page scrolls sideways on a phone", async () => {
    const wide = [];
    for (const path of [...PAGES, `/jobs/${jobId}`, `/jobs/${jobId}/edit`]) {
      await open(path);
      await page.waitForLoadState("networkidle").catch(() => {});
      const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
      if (scroll > client) wide.push(`${path}: ${scroll} > ${client}`);
    }
    assert.deepEqual(wide, []);
    await page.setViewportSize(DESKTOP);
  });

  test("YAML, diffs and snippets stay inside their cards at both sizes", async () => {
    for (const viewport of [PHONE, DESKTOP]) {
      await page.setViewportSize(viewport);
      await open(`/jobs/${jobId}`);
      await page.waitForSelector("[data-testid=yaml]");
      await page.waitForSelector("[data-testid=diff]");
      const outside = await page.evaluate(() =>
        [...document.querySelectorAll("pre.code")].flatMap((pre) => {
          const card = pre.closest(".card").getBoundingClientRect();
          const box = pre.getBoundingClientRect();
          return box.right <= card.right + 0.5 && box.left >= card.left - 0.5 ? [] : [`${pre.dataset.testid ?? pre.className}: ${box.right} > ${card.right}`];
        }),
      );
      assert.deepEqual(outside, [], `at ${viewport.width}px`);
    }
    await screenshots(page, "layout-job", () => page.waitForSelector("[data-testid=yaml]"));
  });

  test("label chips sit apart from the job's name and from each other", async () => {
    await open("/jobs");
    await page.waitForSelector("tbody tr:has-text('archive-export') .chip");
    const gaps = await page.evaluate(() => {
      const row = [...document.querySelectorAll("tbody tr")].find((tr) => tr.textContent.includes("archive-export"));
      const name = row.querySelector("a").getBoundingClientRect();
      const chips = [...row.querySelectorAll(".chip")].map((c) => c.getBoundingClientRect());
      // Side by side, or one under the other when the column is narrow.
      const between = Math.abs(chips[1].top - chips[0].top) < 2 ? chips[1].left - chips[0].right : chips[1].top - chips[0].bottom;
      return { belowName: chips[0].top - name.bottom, between, count: chips.length };
    });
    assert.equal(gaps.count, 2);
    assert.ok(gaps.belowName >= 2, `chips start ${gaps.belowName}px below the name`);
    assert.ok(gaps.between >= 3, `chips are ${gaps.between}px apart`);
    await screenshots(page, "layout-jobs");
  });

  test("dates stay on one line and members read without scrolling on a phone", async () => {
    await page.setViewportSize(PHONE);
    await open("/members");
    await page.waitForSelector("[data-testid=members] td:has-text('henrietta')");
    const lines = await page.evaluate(() =>
      [...document.querySelectorAll("td.nowrap")].map((td) => {
        const range = document.createRange();
        range.selectNodeContents(td);
        return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
      }),
    );
    assert.ok(lines.length >= 2);
    assert.ok(lines.every((n) => n === 1), `lines per date: ${lines}`);
    const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    assert.ok(scroll <= client);
    await page.setViewportSize(DESKTOP);
    await screenshots(page, "layout-members");
  });

  test("the audit log names endpoints instead of showing their ids", async () => {
    await open("/audit");
    await page.waitForSelector("[data-testid=audit-actor]:has-text('endpoint db-primary')");
    const actors = await page.locator("[data-testid=audit-actor]").allTextContents();
    assert.ok(!actors.some((a) => /endpoint:[0-9a-f-]{36}/.test(a)), actors.join(", "));
    await screenshots(page, "layout-audit");
  });

  test("a check-in for a job Git does not hold shows as an unknown job on Health, not HEALTHY", async () => {
    await open("/health-report");
    const row = page.locator("[data-testid=job-health][data-unknown]");
    await row.waitFor();
    assert.match(await row.textContent(), new RegExp(`unknown job ${unknownJobId.slice(0, 8)}`));
    assert.doesNotMatch(await row.textContent(), /HEALTHY/);
    assert.match(await row.locator(".badge").first().textContent(), /UNKNOWN/);
    const known = page.locator("[data-testid=job-health]:not([data-unknown])");
    assert.match(await known.textContent(), /archive-export/);
    await screenshots(page, "layout-health");
  });

  test("empty values read as a dash", async () => {
    await graphql(server.url, token, `mutation { createApiToken(name: "never-used", scopes: [READ]) { __typename } }`);
    await open("/tokens");
    const lastUsed = await page.locator("tbody tr:has-text('never-used') td:nth-child(5)").textContent();
    assert.equal(lastUsed.trim(), "—");
  });

  test("no page threw", () => {
    assert.deepEqual(pageErrors, []);
  });
});
