// Charts in a real browser: runs reported over plain HTTP check-ins show up as the job page's
// duration chart (failures marked), the dashboard's success-rate and runs timelines, and the
// sparklines of the health and jobs lists, which follow new check-ins live. Screenshots in both
// themes at desktop and phone size go to test-artifacts/.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { checkinToken, graphql, launchBrowser, login, noBrowser, registeredPage, screenshotDir, startServer } from "./support.mjs";

let server;
let chromium;
let context;
let page;
let api;
let token;
let jobId;
const pageErrors = [];

/** Report a finished run that took `seconds`, as a cron one-liner would. */
async function report(exitCode, seconds) {
  const url = `${server.url}/checkin/${jobId}/${exitCode}?rid=${crypto.randomUUID()}&duration=${seconds}`;
  const response = await fetch(url, { method: "POST", headers: { Authorization: `Bearer ${token}` }, body: "done\n" });
  assert.ok(response.ok, `check-in refused: ${response.status} ${await response.text()}`);
}

/** Whether a chart's canvas has anything drawn on it (not one flat colour). */
async function drawn(testId) {
  return page.$eval(`[data-testid=${testId}] canvas`, (canvas) => {
    const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    const first = data.slice(0, 4).join();
    for (let i = 4; i < data.length; i += 4) if (data.slice(i, i + 4).join() !== first) return true;
    return false;
  });
}

async function screenshots(name) {
  const dir = screenshotDir();
  for (const [size, viewport] of [
    ["desktop", { width: 1280, height: 800 }],
    ["phone", { width: 390, height: 844 }],
  ]) {
    await page.setViewportSize(viewport);
    for (const scheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.waitForTimeout(150); // the chart redraws in the theme's colours
      await page.screenshot({ path: join(dir, `charts-${name}-${size}-${scheme}.png`), fullPage: true });
    }
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: "light" });
}

describe("charts in the console", { skip: noBrowser }, () => {
  before(async () => {
    server = await startServer();
    chromium = await launchBrowser();
    ({ context, page } = await registeredPage(chromium.browser, server.url, "dana", pageErrors));
    api = await login(server.url, "dana");
    token = await checkinToken(server.url, api);
    const created = await graphql(
      server.url,
      api,
      `mutation { createJob(input: {name: "backup", schedule: "0 * * * *", command: "/opt/backup.sh"}) {
        __typename ... on Job { id } } }`,
    );
    jobId = created.createJob.id;
    // Ten runs: durations from 1 s to 10 s, the 4th and 8th failing.
    for (let i = 1; i <= 10; i++) await report(i % 4 === 0 ? 1 : 0, i);
  });

  after(async () => {
    await context?.close();
    await chromium?.close();
    await server?.stop();
  });

  test("the job page charts the duration of its last runs with failures marked, and follows new runs", async () => {
    await page.goto(`${server.url}/jobs/${jobId}`);
    const chart = page.locator("[data-testid=duration-chart] [data-points]");
    await page.waitForSelector("[data-testid=duration-chart] canvas");
    assert.equal(await chart.getAttribute("data-points"), "10");
    assert.match(await page.textContent("[data-testid=duration-chart] figcaption"), /Duration of the last 10 runs/);
    assert.match(await page.textContent("[data-testid=duration-chart] .sr-only"), /10 runs, 2 failed, longest 10\.0 s/);
    assert.match(await page.textContent("[data-testid=duration-chart] .u-legend"), /Failed/);
    assert.ok(await drawn("duration-chart"), "the duration chart's canvas is blank");

    await report(2, 12);
    await page.waitForSelector("[data-testid=duration-chart] [data-points='11']");
    assert.match(await page.textContent("[data-testid=duration-chart] .sr-only"), /11 runs, 3 failed, longest 12\.0 s/);
    await screenshots("job");
  });

  test("the dashboard draws the success rate and runs per hour, and re-reads them on new runs", async () => {
    await page.goto(`${server.url}/`);
    await page.waitForSelector("[data-testid=success-rate-chart] canvas");
    await page.waitForSelector("[data-testid=runs-chart] canvas");
    assert.match(await page.textContent("[data-testid=success-rate-chart] .sr-only"), /8 of 11 runs succeeded/);
    assert.match(await page.textContent("[data-testid=runs-chart] figcaption"), /Runs per hour/);
    assert.ok(await drawn("success-rate-chart"), "the success-rate chart's canvas is blank");
    assert.ok(await drawn("runs-chart"), "the runs chart's canvas is blank");

    await report(0, 3);
    // Re-read at most every 5 s: the new run is in the figures within that.
    await page.waitForFunction(
      () => /9 of 12 runs succeeded/.test(document.querySelector("[data-testid=success-rate-chart] .sr-only")?.textContent ?? ""),
      null,
      { timeout: 15_000 },
    );
    await page.click("button:has-text('7 days')");
    await page.waitForSelector("[data-testid=runs-chart] figcaption:has-text('Runs per hour')");
    await page.click("button:has-text('30 days')");
    await page.waitForSelector("[data-testid=runs-chart] figcaption:has-text('Runs per day')");
    await page.click("button:has-text('24 h')");
    await screenshots("dashboard");
  });

  test("the health and jobs lists show a sparkline per job that follows new check-ins", async () => {
    await page.goto(`${server.url}/health-report`);
    const health = page.locator("[data-testid=job-health-table] svg.sparkline");
    await health.waitFor();
    assert.equal(await health.getAttribute("data-runs"), "12");
    assert.equal(await health.getAttribute("data-failures"), "3");
    assert.ok((await page.$$("[data-testid=job-health-table] svg.sparkline circle.spark-fail")).length >= 1);

    await page.goto(`${server.url}/jobs`);
    const line = page.locator("[data-testid=jobs-table] svg.sparkline");
    await line.waitFor();
    assert.equal(await line.getAttribute("data-runs"), "12");
    assert.match(await line.getAttribute("aria-label"), /Runs of backup: 12 runs, 3 failed/);
    await report(1, 2);
    await page.waitForSelector("[data-testid=jobs-table] svg.sparkline[data-runs='13'][data-failures='4']", { timeout: 15_000 });
    await screenshots("jobs");
    assert.deepEqual(pageErrors, []);
  });
});
