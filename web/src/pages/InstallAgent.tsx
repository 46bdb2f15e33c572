// Install an agent: pick a platform, get the commands to copy.
import { useState } from "react";
import { CopyButton } from "../components/bits";
import { installCommands, PLATFORMS, type Platform } from "../lib/install";
import { Link } from "../router";
import { EnrollmentTokenMaker } from "./Endpoints";

export function InstallAgentPage() {
  const [platform, setPlatform] = useState<Platform>("linux");
  const [token, setToken] = useState<string | null>(null);
  const commands = installCommands(platform, window.location.origin, token ?? "<enrollment token>");
  return (
    <>
      <header className="page-head">
        <h1>Install an agent</h1>
      </header>
      <section className="card">
        <div className="segmented" role="group" aria-label="Platform">
          {PLATFORMS.map(([value, label]) => (
            <button key={value} type="button" className={value === platform ? "active" : ""} aria-pressed={value === platform} onClick={() => setPlatform(value)}>
              {label}
            </button>
          ))}
        </div>
        <EnrollmentTokenMaker onToken={setToken} />
        <div className="code-block">
          <div className="code-actions">
            <CopyButton text={commands} />
          </div>
          <pre className="code" data-testid="install-commands" tabIndex={0}>
            {commands}
          </pre>
        </div>
        <p className="muted">
          {platform === "windows"
            ? "The installer needs Python 3.11 or newer and creates the agent in %ProgramFiles%\\Crontopus Agent, "
            : "The installer needs Python 3.11 or newer and creates the agent in /opt/crontopus-agent, "}
          installs it from this server, enrolls it, starts it as a service and waits for its first heartbeat. Running it again
          upgrades the agent in place.
        </p>
        <p className="muted">
          The agent then shows up under <Link href="/endpoints">Endpoints</Link> and starts pulling its jobs.
        </p>
      </section>
    </>
  );
}
