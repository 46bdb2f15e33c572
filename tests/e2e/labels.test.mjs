// Endpoint labels edited in a real browser: an admin adds a label on the endpoint page and the job
// that targets it shows up on that endpoint (and the endpoint on the job's page); removing the
// label takes it away again; a malformed label is refused with the reason; a viewer sees the
// labels but no editor.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { graphql, launchBrowser, login, noBrowser, PASSWORD, register, screenshotDir, startServer } from "./support.mjs";

let server;
let chromium;
let context;
let page;
let api;
let endpointId;
let jobId;
const pageErrors = [];

async function logIn(target, username, tenant) {
  await target.goto(`${server.url}/login`);
  await target.fill("input[name=username]", username);
  await target.fill("input[name=password]", PASSWORD);
  if (tenant) await target.fill("input[name=tenant]", tenant);
  await target.click("button:has-text('Log in')");
  await target.waitForSelector("h1:has-text('Dashboard')");
}

describe("endpoint labels in the console", { skip: noBrowser }, () => {
  before(async () => {
    server = await startServer();
    await register(server.url, "fran");
    api = await login(server.url, "fran");
    const made = await graphql(
      server.url,
      api,
      `mutation { createEnrollmentToken(name: "labels") { __typename ... on CreatedEnrollmentToken { plaintext } } }`,
    );
    const enrolled = await graphql(
      server.url,
      null,
      `mutation($t: String!) { enrollEndpoint(enrollmentToken: $t, name: "db-1", hostname: "db-1.example.com",
        platform: "linux", machineId: "labels-machine-0001", agentVersion: "0.1.0", drivers: ["cron"]) {
        __typename ... on EnrolledEndpoint { endpoint { id } } ... on UserError { message } } }`,
      { t: made.createEnrollmentToken.plaintext },
    );
    endpointId = enrolled.enrollEndpoint.endpoint.id;
    const created = await graphql(
      server.url,
      api,
      `mutation { createJob(input: {name: "vacuum", schedule: "0 4 * * *", command: "/opt/vacuum.sh",
        targetLabels: [{key: "role", value: "db"}]}) { __typename ... on Job { id } ... on UserError { message } } }`,
    );
    jobId = created.createJob.id;

    chromium = await launchBrowser();
    context = await chromium.browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: "light" });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await logIn(page, "fran");
  });

  after(async () => {
    await context?.close();
    await chromium?.close();
    await server?.stop();
  });

  test("adding a label targets the job that selects it, and removing it untargets it", async () => {
    await page.goto(`${server.url}/endpoints/${endpointId}`);
    const editor = page.getByTestId("label-editor");
    await editor.waitFor();
    await page.waitForSelector("text=No jobs on this endpoint.");

    await editor.getByLabel("New label").fill("role=db");
    await editor.getByRole("button", { name: "Add label" }).click();
    await editor.locator(".chip:has-text('role=db')").waitFor();
    await page.waitForSelector(`a[href='/jobs/${jobId}']:has-text('vacuum')`);
    await page.screenshot({ path: join(screenshotDir(), "labels-endpoint-light.png"), fullPage: true });

    await page.goto(`${server.url}/jobs/${jobId}`);
    await page.waitForSelector(`[data-testid=job-endpoints] a[href='/endpoints/${endpointId}']:has-text('db-1')`);

    await page.goto(`${server.url}/endpoints/${endpointId}`);
    await page.getByRole("button", { name: "Remove label role" }).click();
    await page.waitForSelector("[data-testid=label-editor] li:has-text('none')");
    await page.waitForSelector("text=No jobs on this endpoint.");
    const stored = await graphql(server.url, api, `query($id: UUID!) { endpoint(id: $id) { labels { key } } }`, { id: endpointId });
    assert.deepEqual(stored.endpoint.labels, []);
  });

  test("a malformed label is refused with the reason and nothing changes", async () => {
    const editor = page.getByTestId("label-editor");
    await editor.getByLabel("New label").fill("no-equals-sign");
    await editor.getByRole("button", { name: "Add label" }).click();
    await editor.locator("[role=alert]:has-text('key=value')").waitFor();
    await editor.getByLabel("New label").fill("Bad Key!=x");
    await editor.getByRole("button", { name: "Add label" }).click();
    await editor.locator("[role=alert]").filter({ hasNotText: "key=value" }).waitFor();
    assert.ok((await editor.locator("[role=alert]").textContent()).length > 5);
    assert.equal(await editor.locator(".chip").count(), 0);
    await page.emulateMedia({ colorScheme: "dark" });
    await page.screenshot({ path: join(screenshotDir(), "labels-endpoint-dark.png"), fullPage: true });
    await page.emulateMedia({ colorScheme: "light" });
  });

  test("a viewer sees the labels but cannot edit them", async () => {
    await graphql(server.url, api, `mutation { updateEndpoint(id: "${endpointId}", labels: [{key: "role", value: "db"}]) { __typename } }`);
    await register(server.url, "gus");
    const added = await graphql(
      server.url,
      api,
      `mutation { addMember(username: "gus", role: VIEWER) { __typename ... on UserError { message } } }`,
    );
    assert.equal(added.addMember.__typename, "Membership", JSON.stringify(added));
    const viewer = await context.browser().newContext({ viewport: { width: 390, height: 844 } });
    const other = await viewer.newPage();
    try {
      await logIn(other, "gus", "fran");
      await other.goto(`${server.url}/endpoints/${endpointId}`);
      await other.locator("[data-testid=label-editor] .chip:has-text('role=db')").waitFor();
      assert.equal(await other.getByLabel("New label").count(), 0);
      assert.equal(await other.getByRole("button", { name: /Remove label/ }).count(), 0);
    } finally {
      await viewer.close();
    }
    assert.deepEqual(pageErrors, []);
  });
});
