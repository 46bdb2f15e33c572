// A stand-in forge for the browser tests, as tests/server/forge.py is for the server's: the real
// `git http-backend` (CGI) behind an HTTP server with basic auth, serving bare repositories under
// `<root>/ops/<tenant>.git` on 127.0.0.1 the way Forgejo or Gitea serve
// `https://forge/ops/<tenant>.git`. People push to it with the git command line.
import { execFile, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

export const FORGE_USERNAME = "crontopus-bot";
export const FORGE_TOKEN = "forge-token-0123456789";
export const WEBHOOK_SECRET = "webhook-secret-0123456789";

const run = promisify(execFile);

/** Run git without the caller's configuration, as `HOME` says; returns its stdout. */
async function git(home, args, cwd) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("GIT_")));
  Object.assign(env, { HOME: home, GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1" });
  const { stdout } = await run("git", args, { cwd, env });
  return stdout.trim();
}

function authorized(header) {
  const [scheme, value] = (header ?? "").split(" ");
  if (scheme?.toLowerCase() !== "basic" || !value) return false;
  return Buffer.from(value, "base64").toString() === `${FORGE_USERNAME}:${FORGE_TOKEN}`;
}

/** Answer one request with `git http-backend`, the CGI program git ships for smart HTTP. */
function serveGit(root, request, response, body) {
  const [path, query = ""] = request.url.split("?");
  const env = {
    PATH: process.env.PATH,
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: "1",
    REQUEST_METHOD: request.method,
    PATH_INFO: decodeURIComponent(path),
    QUERY_STRING: query,
    CONTENT_TYPE: request.headers["content-type"] ?? "",
    CONTENT_LENGTH: String(body.length),
    REMOTE_USER: FORGE_USERNAME,
    REMOTE_ADDR: "127.0.0.1",
    GIT_CONFIG_NOSYSTEM: "1",
    HOME: root,
  };
  if (request.headers["content-encoding"]) env.HTTP_CONTENT_ENCODING = request.headers["content-encoding"];
  if (request.headers["git-protocol"]) env.GIT_PROTOCOL = request.headers["git-protocol"];
  const child = spawn("git", ["http-backend"], { env });
  const out = [];
  child.stdout.on("data", (chunk) => out.push(chunk));
  child.stderr.resume();
  child.on("close", () => {
    const all = Buffer.concat(out);
    const split = all.indexOf("\r\n\r\n");
    const head = split < 0 ? "" : all.subarray(0, split).toString("latin1");
    const payload = split < 0 ? all : all.subarray(split + 4);
    let status = 200;
    const headers = {};
    for (const line of head.split("\r\n")) {
      const at = line.indexOf(":");
      if (at < 0) continue;
      const name = line.slice(0, at);
      const value = line.slice(at + 1).trim();
      if (name.toLowerCase() === "status") status = Number(value.split(" ")[0]);
      else headers[name] = value;
    }
    response.writeHead(status, { ...headers, "Content-Length": payload.length });
    response.end(payload);
  });
  child.stdin.end(body);
}

/** Start the forge; `stop()` ends it and removes its repositories. */
export async function startForge() {
  const root = mkdtempSync(join(tmpdir(), "crontopus-forge-"));
  const home = join(root, "home");
  mkdirSync(home);
  writeFileSync(join(home, ".gitconfig"), "[user]\n\tname = Rhea\n\temail = rhea@example.com\n[init]\n\tdefaultBranch = main\n");
  const server = createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      if (!authorized(request.headers.authorization)) {
        response.writeHead(401, { "WWW-Authenticate": 'Basic realm="forge"', "Content-Length": 0 });
        response.end();
        return;
      }
      serveGit(root, request, response, Buffer.concat(chunks));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  let clones = 0;
  const url = (tenant, credentials = true) =>
    `http://${credentials ? `${FORGE_USERNAME}:${FORGE_TOKEN}@` : ""}127.0.0.1:${port}/ops/${tenant}.git`;
  return {
    url,
    urlTemplate: `http://127.0.0.1:${port}/ops/{tenant}.git`,
    /** The server settings that put its tenants' repositories on this forge (webhooks only). */
    settings() {
      return {
        CRONTOPUS_GIT_STORE: "external",
        CRONTOPUS_GIT_EXTERNAL_URL: `http://127.0.0.1:${port}/ops/{tenant}.git`,
        CRONTOPUS_GIT_EXTERNAL_USERNAME: FORGE_USERNAME,
        CRONTOPUS_GIT_EXTERNAL_TOKEN: FORGE_TOKEN,
        CRONTOPUS_GIT_WEBHOOK_SECRET: WEBHOOK_SECRET,
        CRONTOPUS_GIT_FETCH_INTERVAL: "3600",
      };
    },
    /** Create an empty repository for a tenant, as an operator does on the forge. */
    async create(tenant) {
      await git(home, ["init", "-q", "--bare", "--initial-branch=main", join(root, "ops", `${tenant}.git`)]);
    },
    /** Clone the tenant's repository, write `files` (path → text), commit, push; the commit id. */
    async push(tenant, files, message) {
      const work = join(root, `work-${++clones}`);
      await git(home, ["clone", "-q", url(tenant), work]);
      for (const [name, text] of Object.entries(files)) {
        mkdirSync(dirname(join(work, name)), { recursive: true });
        writeFileSync(join(work, name), text);
      }
      await git(home, ["add", "-A"], work);
      await git(home, ["commit", "-qm", message], work);
      await git(home, ["push", "-q", "origin", "main"], work);
      return git(home, ["rev-parse", "HEAD"], work);
    },
    /** Call the server's push webhook for a tenant, signed as GitHub, Forgejo and Gitea sign. */
    async webhook(serverUrl, tenant) {
      const body = JSON.stringify({ ref: "refs/heads/main" });
      const signature = createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex");
      const response = await fetch(`${serverUrl}/git-hooks/${tenant}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Hub-Signature-256": `sha256=${signature}` },
        body,
      });
      if (response.status !== 202) throw new Error(`the webhook was answered ${response.status}: ${await response.text()}`);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(root, { recursive: true, force: true });
    },
  };
}
