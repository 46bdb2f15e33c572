// The exact commands that install, enroll and start an agent on each platform.
export type Platform = "linux-systemd" | "linux-cron" | "windows";

export const PLATFORMS: [Platform, string][] = [
  ["linux-systemd", "Linux (systemd)"],
  ["linux-cron", "Linux (cron, no systemd)"],
  ["windows", "Windows"],
];

const sh = (value: string): string => `'${value.replaceAll("'", `'\\''`)}'`;

/** The shell commands for `platform`, enrolling against `server` with `token`. */
export function installCommands(platform: Platform, server: string, token: string): string {
  if (platform === "windows") {
    return [
      "# PowerShell, as Administrator",
      "py -m venv C:\\crontopus-agent",
      "C:\\crontopus-agent\\Scripts\\pip install crontopus-agent",
      `C:\\crontopus-agent\\Scripts\\crontopus-agent enroll --server "${server}" --token "${token}"`,
      `schtasks /Create /TN "Crontopus agent" /SC ONSTART /RU SYSTEM /TR "C:\\crontopus-agent\\Scripts\\crontopus-agent.exe run"`,
      `schtasks /Run /TN "Crontopus agent"`,
    ].join("\n");
  }
  const common = [
    "sudo python3 -m venv /opt/crontopus-agent",
    "sudo /opt/crontopus-agent/bin/pip install crontopus-agent",
    `sudo /opt/crontopus-agent/bin/crontopus-agent enroll --server ${sh(server)} --token ${sh(token)}`,
  ];
  if (platform === "linux-cron") {
    return [
      ...common,
      "# start the agent at boot and now",
      `echo '@reboot root /opt/crontopus-agent/bin/crontopus-agent run' | sudo tee /etc/cron.d/crontopus-agent`,
      "sudo nohup /opt/crontopus-agent/bin/crontopus-agent run >/var/log/crontopus-agent.log 2>&1 &",
    ].join("\n");
  }
  return [
    ...common,
    "sudo tee /etc/systemd/system/crontopus-agent.service >/dev/null <<'UNIT'",
    "[Unit]",
    "Description=Crontopus agent",
    "After=network-online.target",
    "Wants=network-online.target",
    "",
    "[Service]",
    "ExecStart=/opt/crontopus-agent/bin/crontopus-agent run",
    "Restart=always",
    "RestartSec=5",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "UNIT",
    "sudo systemctl daemon-reload",
    "sudo systemctl enable --now crontopus-agent",
  ].join("\n");
}
