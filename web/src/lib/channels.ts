// The settings of each notification channel kind as form fields (the server's
// channels/config.py is the authority: it names these keys and checks them on save).
import type { ChannelKind } from "../gql/graphql";

export type ChannelField = {
  key: string;
  label: string;
  placeholder?: string;
  hint?: string;
  type: "text" | "secret" | "number" | "list" | "select";
  options?: string[];
  required?: boolean;
};

export const CHANNEL_KINDS: [ChannelKind, string][] = [
  ["WEBHOOK", "Webhook"],
  ["SLACK", "Slack"],
  ["EMAIL", "E-mail (SMTP)"],
  ["PAGERDUTY", "PagerDuty"],
];

export const CHANNEL_FIELDS: Record<ChannelKind, ChannelField[]> = {
  WEBHOOK: [
    { key: "url", label: "URL", type: "text", required: true, placeholder: "https://hooks.example.com/crontopus", hint: "each alert is POSTed here as JSON" },
    { key: "secret", label: "Signing secret", type: "secret", placeholder: "at least 16 characters", hint: "optional; signs every request" },
  ],
  SLACK: [
    {
      key: "url",
      label: "Incoming webhook URL",
      type: "text",
      required: true,
      placeholder: "https://hooks.slack.com/services/T000/B000/XXXX",
      hint: "from Slack's Incoming Webhooks app",
    },
  ],
  EMAIL: [
    { key: "host", label: "SMTP server", type: "text", required: true, placeholder: "smtp.example.com" },
    { key: "port", label: "Port", type: "number", placeholder: "587", hint: "empty: 587 for STARTTLS, 465 for TLS, 25 for none" },
    { key: "security", label: "Security", type: "select", options: ["starttls", "tls", "none"] },
    { key: "username", label: "User name", type: "text", placeholder: "crontopus", hint: "optional" },
    { key: "password", label: "Password", type: "secret", hint: "optional" },
    { key: "sender", label: "From", type: "text", required: true, placeholder: "crontopus@example.com" },
    { key: "recipients", label: "To", type: "list", required: true, placeholder: "ops@example.com, oncall@example.com", hint: "comma-separated" },
  ],
  PAGERDUTY: [
    { key: "routing_key", label: "Integration key", type: "secret", required: true, placeholder: "32 characters", hint: "of the PagerDuty service's Events API v2 integration" },
    { key: "severity", label: "Severity", type: "select", options: ["error", "critical", "warning", "info"] },
  ],
};

/** The `config` a channel's form values stand for: empty fields left out, ports as numbers,
 * recipient lists split on commas and spaces. */
export function channelConfig(kind: ChannelKind, values: Record<string, string>): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const field of CHANNEL_FIELDS[kind]) {
    const value = (values[field.key] ?? "").trim();
    if (!value) continue;
    if (field.type === "number") config[field.key] = /^\d+$/.test(value) ? Number(value) : value;
    else if (field.type === "list") config[field.key] = value.split(/[\s,;]+/).filter(Boolean);
    else config[field.key] = value;
  }
  return config;
}

/** The field a server problem path (input.config.url) is about, or null. */
export function channelFieldOf(path: string[]): string | null {
  const at = path.indexOf("config");
  return at >= 0 && path[at + 1] ? path[at + 1] : path[path.length - 1] === "name" ? "name" : null;
}
