// The one command that installs, enrolls and starts an agent, from this server's own installer.
export type Platform = "linux" | "windows";

export const PLATFORMS: [Platform, string][] = [
  ["linux", "Linux"],
  ["windows", "Windows"],
];

const sh = (value: string): string => (/^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`);
const powershell = (value: string): string => `'${value.replaceAll("'", "''")}'`;

/** The install command for `platform`, from `server`'s installer, enrolling with `token`. */
export function installCommands(platform: Platform, server: string, token: string): string {
  const base = server.replace(/\/+$/, "");
  if (platform === "windows") {
    return [
      "# PowerShell, as Administrator",
      `& ([scriptblock]::Create((irm ${powershell(`${base}/install/agent.ps1`)}))) -Token ${powershell(token)}`,
    ].join("\n");
  }
  return `curl -fsSL ${sh(`${base}/install/agent.sh`)} | sudo sh -s -- --token ${sh(token)}`;
}
