// Account mail in a real browser against a real server and a real SMTP sink: the
// unverified-address banner goes away once the verification link is opened, and a forgotten
// password is reset through the mailed link.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { launchBrowser, logInInBrowser, noBrowser, PASSWORD, register, screenshots, startServer } from "./support.mjs";
import { linkIn, startMailSink } from "./smtp_sink.mjs";

let sink;
let server;
let chromium;
let context;
let page;
const pageErrors = [];
const NEW_PASSWORD = "a freshly chosen passphrase";

describe("account mail", { skip: noBrowser }, () => {
  before(async () => {
    sink = await startMailSink();
    server = await startServer({
      settings: (url) => ({
        CRONTOPUS_SMTP_URL: sink.url,
        CRONTOPUS_MAIL_FROM: "Crontopus <crontopus@example.com>",
        CRONTOPUS_PUBLIC_URL: url,
      }),
    });
    chromium = await launchBrowser();
    context = await chromium.browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: "light" });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await register(server.url, "mia");
  });

  after(async () => {
    await context?.close();
    await chromium?.close();
    await server?.stop();
    await sink?.stop();
  });

  test("the unverified-address banner goes once the verification link is opened", async () => {
    await logInInBrowser(page, server.url, "mia");
    const banner = await page.waitForSelector("[data-testid=verify-banner]");
    assert.match(await banner.textContent(), /mia@example\.com/);
    await screenshots(page, "verify-banner", () => page.waitForSelector("[data-testid=verify-banner]"));

    const mail = await sink.waitFor("mia@example.com", "Confirm your e-mail address");
    await page.goto(linkIn(mail));
    const result = await page.waitForSelector("[data-testid=verify-result]");
    assert.match(await result.textContent(), /mia@example\.com is verified/);
    await screenshots(page, "verify-email");
    await page.click("a:has-text('Go to the console')");
    await page.waitForSelector("h1:has-text('Dashboard')");
    assert.equal(await page.locator("[data-testid=verify-banner]").count(), 0);
  });

  test("a forgotten password is reset with the mailed link, then the new one logs in", async () => {
    await context.clearCookies(); // signed out: the refresh cookie is what keeps a session
    await page.goto(server.url + "/login");
    await page.click("a:has-text('Forgot password?')");
    await page.waitForSelector("h1:has-text('Forgot your password?')");
    await screenshots(page, "forgot-password");
    await page.fill("input[name=email]", "mia@example.com");
    await page.click("button:has-text('Send the link')");
    const requested = await page.waitForSelector("[data-testid=reset-requested]");
    assert.match(await requested.textContent(), /If an account has this address/);

    const mail = await sink.waitFor("mia@example.com", "Reset your password");
    assert.equal(mail.from, "Crontopus <crontopus@example.com>");
    const link = linkIn(mail);
    assert.ok(link.startsWith(`${server.url}/reset-password#token=cta_`), link);
    await page.goto(link);
    await page.waitForSelector("h1:has-text('Choose a new password')");
    assert.equal(new URL(page.url()).hash, "", "the token leaves the address bar");
    await screenshots(page, "reset-password");
    await page.fill("input[name=password]", NEW_PASSWORD);
    await page.fill("input[name=repeat]", NEW_PASSWORD);
    await page.click("button:has-text('Set the password')");
    await page.waitForSelector("h1:has-text('Your password is changed')");
    await page.click("button:has-text('Log in')");

    await page.waitForSelector("h1:has-text('Log in to Crontopus')");
    await page.fill("input[name=username]", "mia");
    await page.fill("input[name=password]", PASSWORD);
    await page.click("button:has-text('Log in')");
    await page.waitForSelector("[role=alert]:has-text('wrong username or password')");
    await page.fill("input[name=password]", NEW_PASSWORD);
    await page.click("button:has-text('Log in')");
    await page.waitForSelector("h1:has-text('Dashboard')");

    // The link is spent: opened again, it is refused with what to do.
    await page.goto(link);
    await page.fill("input[name=password]", "yet another passphrase");
    await page.fill("input[name=repeat]", "yet another passphrase");
    await page.click("button:has-text('Set the password')");
    await page.waitForSelector("[role=alert]:has-text('already used')");
    assert.deepEqual(pageErrors, []);
  });

  test("an invitation by address is mailed and accepted into the inviting tenant", async () => {
    await page.goto(server.url + "/members");
    await page.waitForSelector("h1:has-text('Members')");
    await page.fill("input[aria-label='E-mail address']", "noah@example.com");
    await page.selectOption("select[aria-label='Role of the invited']", "VIEWER");
    await page.click("button:has-text('Invite')");
    await page.waitForSelector("[role=status]:has-text('Invitation sent to noah@example.com')");

    const mail = await sink.waitFor("noah@example.com", "mia invites you to mia");
    const stranger = await chromium.browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: "light" });
    try {
      const tab = await stranger.newPage();
      tab.setDefaultTimeout(10_000);
      await tab.goto(linkIn(mail));
      await tab.waitForSelector("h1:has-text('Join Crontopus')");
      await screenshots(tab, "accept-invitation");
      await tab.fill("input[name=username]", "noah");
      await tab.fill("input[name=password]", PASSWORD);
      await tab.click("button:has-text('Accept the invitation')");
      await tab.waitForSelector("h1:has-text('Dashboard')");
      await tab.waitForFunction(() => document.querySelector("select[aria-label=Tenant]")?.value === "mia");
    } finally {
      await stranger.close();
    }
    await page.reload();
    await page.waitForSelector("[data-testid=members] td:has-text('noah')");
    // Accepted, it is no longer pending.
    assert.equal(await page.locator("[data-testid=invitations]").count(), 0);
    assert.deepEqual(pageErrors, []);
  });

  test("a pending invitation is listed with who sent it and revoked, and its link stops working (screenshots)", async () => {
    await page.goto(server.url + "/members");
    await page.waitForSelector("h1:has-text('Members')");
    await page.fill("input[aria-label='E-mail address']", "olive@example.com");
    await page.selectOption("select[aria-label='Role of the invited']", "ADMIN");
    await page.click("button:has-text('Invite')");
    const row = page.locator("[data-testid=invitations] tr", { hasText: "olive@example.com" });
    await row.waitFor();
    assert.match(await row.innerText(), /ADMIN\s+mia/);
    await screenshots(page, "members-invitations", () => row.waitFor());
    const mail = await sink.waitFor("olive@example.com", "mia invites you to mia");

    page.once("dialog", (dialog) => dialog.accept());
    await page.click("button[aria-label='Revoke the invitation to olive@example.com']");
    await page.locator("[data-testid=invitations]").waitFor({ state: "detached" });

    const stranger = await chromium.browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: "light" });
    try {
      const tab = await stranger.newPage();
      tab.setDefaultTimeout(10_000);
      await tab.goto(linkIn(mail));
      await tab.fill("input[name=username]", "olive");
      await tab.fill("input[name=password]", PASSWORD);
      await tab.click("button:has-text('Accept the invitation')");
      await tab.waitForSelector("[role=alert]:has-text('not a valid link')");
    } finally {
      await stranger.close();
    }
    assert.deepEqual(pageErrors, []);
  });
});
