// YAML with highlighting, and line diffs between two manifest versions.
import { diffLines } from "../lib/diff";
import { highlightLine } from "../lib/yaml";
import { CopyButton } from "./bits";

export function YamlView({ yaml, copy = true }: { yaml: string; copy?: boolean }) {
  return (
    <div className="code-block">
      {copy && (
        <div className="code-actions">
          <CopyButton text={yaml} />
        </div>
      )}
      <pre className="code" data-testid="yaml" tabIndex={0}>
        {yaml.replace(/\n$/, "").split("\n").map((line, i) => (
          <div key={i}>
            {highlightLine(line).map((token, j) => (
              <span key={j} className={`tok-${token.kind}`}>
                {token.text}
              </span>
            ))}
            {line === "" ? "\u00a0" : null}
          </div>
        ))}
      </pre>
    </div>
  );
}

export function DiffView({ before, after }: { before: string | null | undefined; after: string | null | undefined }) {
  const lines = diffLines(before, after);
  return (
    <pre className="code diff" data-testid="diff" tabIndex={0}>
      {lines.map((line, i) => (
        <div key={i} className={`diff-${line.kind}`}>
          <span className="diff-mark">{line.kind === "added" ? "+" : line.kind === "removed" ? "-" : " "}</span>
          {line.text || "\u00a0"}
        </div>
      ))}
    </pre>
  );
}
