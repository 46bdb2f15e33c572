// A small YAML highlighter for manifests: enough to tell keys, strings, numbers,
// booleans and comments apart without shipping a full grammar.

export type TokenKind = "key" | "string" | "number" | "bool" | "comment" | "punct" | "plain";
export type Token = { kind: TokenKind; text: string };

const SCALAR_KINDS: [RegExp, TokenKind][] = [
  [/^(["']).*\1$/, "string"],
  [/^-?\d+(\.\d+)?$/, "number"],
  [/^(true|false|null|~|yes|no)$/i, "bool"],
];

function scalar(text: string): Token[] {
  const trimmed = text.trim();
  if (!trimmed) return text ? [{ kind: "plain", text }] : [];
  const lead = text.slice(0, text.indexOf(trimmed));
  const tail = text.slice(lead.length + trimmed.length);
  const kind = SCALAR_KINDS.find(([pattern]) => pattern.test(trimmed))?.[1] ?? "string";
  const tokens: Token[] = [];
  if (lead) tokens.push({ kind: "plain", text: lead });
  if (/^[[{]/.test(trimmed)) tokens.push({ kind: "plain", text: trimmed });
  else tokens.push({ kind, text: trimmed });
  if (tail) tokens.push({ kind: "plain", text: tail });
  return tokens;
}

/** Where a comment starts: a "#" at the line's start or after whitespace, outside quotes. */
function commentStart(line: string): number {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]))) {
      return i;
    }
  }
  return -1;
}

/** Split one line of YAML into highlighted tokens; joined they give the line back. */
export function highlightLine(line: string): Token[] {
  const tokens: Token[] = [];
  let rest = line;
  const start = commentStart(rest);
  const comment = start < 0 ? "" : rest.slice(start);
  if (start >= 0) rest = rest.slice(0, start);
  const indent = /^\s*(- )?/.exec(rest)?.[0] ?? "";
  if (indent) tokens.push({ kind: indent.includes("-") ? "punct" : "plain", text: indent });
  rest = rest.slice(indent.length);
  const key = /^([A-Za-z0-9_.\-/"']+)(:)(\s|$)/.exec(rest);
  if (key) {
    tokens.push({ kind: "key", text: key[1] }, { kind: "punct", text: key[2] });
    rest = rest.slice(key[1].length + 1);
  }
  tokens.push(...scalar(rest));
  if (comment) tokens.push({ kind: "comment", text: comment });
  return tokens;
}
