// A real SMTP server for the browser tests, on a loopback port: it accepts every mail and keeps
// it, decoded, so a test can read the link in it. Only what the server's smtplib sends is spoken
// (EHLO, MAIL, RCPT, DATA, QUIT); no TLS, no login.
import { createServer } from "node:net";

/** Decode a MIME part's body by its Content-Transfer-Encoding. */
function decode(headers, body) {
  const encoding = /content-transfer-encoding:\s*([\w-]+)/i.exec(headers)?.[1]?.toLowerCase();
  if (encoding === "base64") return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
  if (encoding === "quoted-printable") {
    const bytes = body.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/gi, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
    return Buffer.from(bytes, "latin1").toString("utf8");
  }
  return body;
}

/** Split a raw mail into its headers and its text and HTML bodies. */
export function parseMail(raw) {
  const [head, ...rest] = raw.split(/\r?\n\r?\n/);
  const body = rest.join("\r\n\r\n");
  const header = (name) => new RegExp(`^${name}:\\s*(.*)$`, "im").exec(head)?.[1]?.trim() ?? "";
  const boundary = /boundary="?([^";\r\n]+)"?/i.exec(head)?.[1];
  const parts = {};
  for (const part of boundary ? body.split(`--${boundary}`) : []) {
    const [partHead, ...partBody] = part.replace(/^\r?\n/, "").split(/\r?\n\r?\n/);
    const type = /content-type:\s*text\/(plain|html)/i.exec(partHead)?.[1];
    if (type) parts[type] = decode(partHead, partBody.join("\r\n\r\n"));
  }
  return { to: header("To"), subject: header("Subject"), from: header("From"), text: parts.plain ?? "", html: parts.html ?? "" };
}

export async function startMailSink() {
  const mails = [];
  const waiters = [];
  const server = createServer((socket) => {
    let buffer = "";
    let data = false;
    socket.write("220 sink ESMTP\r\n");
    socket.on("data", (chunk) => {
      buffer += chunk.toString("latin1");
      for (;;) {
        if (data) {
          const end = buffer.indexOf("\r\n.\r\n");
          if (end < 0) return;
          const raw = buffer.slice(0, end).replace(/^\.\./gm, ".");
          buffer = buffer.slice(end + 5);
          data = false;
          mails.push(parseMail(Buffer.from(raw, "latin1").toString("utf8")));
          socket.write("250 OK\r\n");
          for (const waiter of waiters.splice(0)) waiter();
          continue;
        }
        const eol = buffer.indexOf("\r\n");
        if (eol < 0) return;
        const line = buffer.slice(0, eol);
        buffer = buffer.slice(eol + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === "EHLO") socket.write("250-sink\r\n250 8BITMIME\r\n");
        else if (verb === "DATA") {
          data = true;
          socket.write("354 go ahead\r\n");
        } else if (verb === "QUIT") socket.end("221 bye\r\n");
        else socket.write("250 OK\r\n"); // HELO, MAIL, RCPT, RSET, NOOP
      }
    });
    socket.on("error", () => {});
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    /** The first mail to `to` whose subject contains `subject`, waiting up to 15 s. */
    async waitFor(to, subject) {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const found = mails.find((m) => m.to === to && m.subject.includes(subject));
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no mail "${subject}" to ${to}: ${JSON.stringify(mails.map((m) => [m.to, m.subject]))}`);
        await new Promise((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
    },
    async stop() {
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The one console link (with its #token=) in a mail's text, which the HTML carries too. */
export function linkIn(mail) {
  const links = mail.text.match(/https?:\/\/\S+#token=[A-Za-z0-9_]+/g) ?? [];
  if (links.length !== 1) throw new Error(`expected one link in: ${mail.text}`);
  if (!mail.html.includes(links[0])) throw new Error("the HTML part lacks the link");
  return links[0];
}
