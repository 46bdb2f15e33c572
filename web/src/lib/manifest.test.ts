import { describe, expect, it } from "vitest";
import { emptyAlerts, emptyForm, jobInput, manifestYaml, parsePairs } from "./manifest";

describe("the job form", () => {
  const form = {
    ...emptyForm("backup"),
    name: "db-dump",
    schedule: "0 2 * * *",
    timezone: "Europe/Berlin",
    command: "/opt/dump.sh",
    args: "--full\n\n--quiet",
    env: "PGHOST=db1\nEMPTY=",
    labels: "team=platform",
    targetLabels: "role=db",
    timeout: "3600",
  };

  it("turns key=value lines into pairs, keeping '=' inside values", () => {
    expect(parsePairs("A=1\n\n B = x=y \nFLAG")).toEqual([
      { key: "A", value: "1" },
      { key: "B", value: " x=y" },
      { key: "FLAG", value: "" },
    ]);
  });

  it("builds the mutation input with lists, numbers and nulls", () => {
    const input = jobInput(form);
    expect(input.args).toEqual(["--full", "--quiet"]);
    expect(input.timeout).toBe(3600);
    expect(input.graceTime).toBe(300);
    expect(input.namespace).toBe("backup");
    expect(input.targetLabels).toEqual([{ key: "role", value: "db" }]);
    expect(jobInput({ ...form, timeout: "" }).timeout).toBeNull();
  });

  it("writes a manifest with every value quoted and enums in manifest spelling", () => {
    const yaml = manifestYaml({ ...form, concurrency: "FORBID" }, "550e8400-e29b-41d4-a716-446655440000");
    expect(yaml).toContain('  id: "550e8400-e29b-41d4-a716-446655440000"');
    expect(yaml).toContain('  schedule: "0 2 * * *"');
    expect(yaml).toContain('    - "--full"');
    expect(yaml).toContain('    "PGHOST": "db1"');
    expect(yaml).toContain("  concurrency: forbid");
    expect(yaml).toContain("  timeout: 3600");
    expect(yaml).toContain('  targets:\n    labels:\n      "role": "db"');
  });

  it("references secrets with the list form of env, next to the literal values", () => {
    const withSecret = { ...form, secretEnv: "DB_PASSWORD=db-password" };
    expect(jobInput(withSecret).secretEnv).toEqual([{ key: "DB_PASSWORD", value: "db-password" }]);
    expect(manifestYaml(withSecret)).toContain(
      '  env:\n    - {name: "PGHOST", value: "db1"}\n    - {name: "EMPTY", value: ""}\n' +
        '    - {name: "DB_PASSWORD", secretRef: "db-password"}\n',
    );
  });

  it("quotes a non-numeric timeout so the validator reports it instead of the YAML parser", () => {
    expect(manifestYaml({ ...form, timeout: "soon" })).toContain('  timeout: "soon"');
  });
});

describe("the job form's alert rules", () => {
  const base = { ...emptyForm(), name: "report", command: "/bin/report" };
  const alerts = { ...emptyAlerts(), own: true, onFailure: "no" as const, consecutiveFailures: "3", ratePercent: "50", rateWindow: "3600", channels: "ops, pager" };

  it("follow the tenant's defaults unless the job has its own", () => {
    expect(jobInput(base).alerts).toBeNull();
    expect(manifestYaml(base)).not.toContain("alerts");
  });

  it("become the mutation's alerts, leaving unsaid rules null", () => {
    expect(jobInput({ ...base, alerts }).alerts).toEqual({
      onFailure: false,
      missedRun: null,
      consecutiveFailures: 3,
      failureRate: { percent: 50, window: 3600, minRuns: null },
      maxDuration: null,
      minDuration: null,
      channels: ["ops", "pager"],
    });
  });

  it("are written into the manifest the validator checks", () => {
    const yaml = manifestYaml({ ...base, alerts, systemdAcceptDst: true });
    expect(yaml).toContain("  alerts:\n    onFailure: false\n    consecutiveFailures: 3\n    failureRate:\n      percent: 50\n      window: 3600\n");
    expect(yaml).toContain('    channels:\n      - "ops"\n      - "pager"');
    expect(yaml).toContain("  systemd:\n    acceptDstDifferences: true");
    expect(manifestYaml({ ...base, alerts: { ...emptyAlerts(), own: true } })).toContain("  alerts: {}");
  });
});

describe("clones and saves", () => {
  it("name a clone after its job, once", async () => {
    const { cloneName } = await import("./manifest");
    expect(cloneName("backup")).toBe("backup-copy");
    expect(cloneName("backup-copy")).toBe("backup-copy");
    expect(cloneName("a".repeat(63)).length).toBeLessThanOrEqual(63);
  });

  it("say what was saved, with the commit message's first line", async () => {
    const { savedNotice } = await import("./manifest");
    expect(savedNotice("default", "backup", false, null)).toBe("Created default/backup");
    expect(savedNotice("ops", "backup", true, "Later\nbody")).toBe("Saved ops/backup: “Later”");
  });
});
