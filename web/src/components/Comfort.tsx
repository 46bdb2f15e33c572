// Keyboard comfort: "?" lists every shortcut (from lib/shortcuts.ts), Ctrl-K / ⌘K opens a palette
// that jumps to any job, endpoint (searched on the server) or page.
import { useEffect, useRef, useState, type KeyboardEvent as ReactKeyboardEvent, type ReactNode } from "react";
import { useDebounced, useQuery } from "../api/hooks";
import { PaletteSearchQuery } from "../api/operations";
import { ErrorNote } from "./bits";
import { OTHER_PAGES, PAGES } from "../lib/pages";
import { HELP_KEY, isPaletteKey, isTyping, shortcutList } from "../lib/shortcuts";
import { navigate } from "../router";

type Open = "help" | "palette" | null;

const isMac = () => /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);

export function Comfort() {
  const [open, setOpen] = useState<Open>(null);
  const before = useRef<HTMLElement | null>(null);
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (isPaletteKey(event)) {
        event.preventDefault();
        before.current ??= document.activeElement as HTMLElement | null;
        setOpen((now) => (now === "palette" ? null : "palette"));
        return;
      }
      if (event.key === HELP_KEY && !event.ctrlKey && !event.metaKey && !event.altKey && !isTyping(event.target)) {
        event.preventDefault();
        before.current ??= document.activeElement as HTMLElement | null;
        setOpen((now) => (now === "help" ? null : "help"));
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  const close = (restoreFocus = true) => {
    setOpen(null);
    // Focus goes back where it was, unless the palette navigated somewhere new.
    if (restoreFocus) before.current?.focus?.();
    before.current = null;
  };
  if (open === "help") return <ShortcutHelp onClose={close} />;
  if (open === "palette") return <Palette onClose={close} />;
  return null;
}

/** A modal layer: a click on the backdrop or Esc closes it; Tab stays inside. */
function Overlay({ label, onClose, children, className = "" }: { label: string; onClose: () => void; children: ReactNode; className?: string }) {
  const box = useRef<HTMLDivElement>(null);
  const onKeyDown = (event: ReactKeyboardEvent) => {
    if (event.key === "Escape") {
      event.preventDefault();
      onClose();
    }
    if (event.key === "Tab" && box.current) {
      const focusable = [...box.current.querySelectorAll<HTMLElement>("button, input, a[href], [tabindex='0']")];
      if (focusable.length === 0) return;
      const [first, last] = [focusable[0], focusable[focusable.length - 1]];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    }
  };
  return (
    <div className="overlay" onMouseDown={(e) => e.target === e.currentTarget && onClose()} onKeyDown={onKeyDown}>
      <div ref={box} className={`overlay-box ${className}`} role="dialog" aria-modal="true" aria-label={label}>
        {children}
      </div>
    </div>
  );
}

function ShortcutHelp({ onClose }: { onClose: () => void }) {
  const closeButton = useRef<HTMLButtonElement>(null);
  useEffect(() => closeButton.current?.focus(), []);
  return (
    <Overlay label="Keyboard shortcuts" onClose={onClose}>
      <div className="row spread">
        <h2>Keyboard shortcuts</h2>
        <button ref={closeButton} className="button small" onClick={onClose}>
          Close
        </button>
      </div>
      <table className="shortcuts" data-testid="shortcut-list">
        <tbody>
          {shortcutList(isMac()).map((shortcut) => (
            <tr key={shortcut.keys.join("+") + shortcut.what}>
              <td className="keys">
                {shortcut.keys.map((key, i) => (
                  <span key={key}>
                    {i > 0 && <span className="muted">{shortcut.then ? " then " : " + "}</span>}
                    <kbd>{key}</kbd>
                  </span>
                ))}
              </td>
              <td>{shortcut.what}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted small">Letter shortcuts stay quiet while you type in a field.</p>
    </Overlay>
  );
}

type Choice = { href: string; label: string; kind: "job" | "endpoint" | "page"; detail?: string };

/** The pages whose name contains `text`, any case. */
export function matchingPages(text: string): Choice[] {
  const wanted = text.trim().toLowerCase();
  return [...PAGES, ...OTHER_PAGES]
    .filter(([, label]) => !wanted || label.toLowerCase().includes(wanted))
    .map(([href, label]) => ({ href, label, kind: "page" as const }));
}

function Palette({ onClose }: { onClose: () => void }) {
  const [text, setText] = useState("");
  const [active, setActive] = useState(0);
  const search = useDebounced(text.trim(), 150);
  // Jobs and endpoints come from the server's own search (paged queries, first 8 of each).
  const found = useQuery(PaletteSearchQuery, { search, first: 8 }, search === "");
  const stale = search !== text.trim();
  const choices: Choice[] = [
    ...(search && found.data
      ? [
          ...found.data.jobs.nodes.map((j) => ({ href: `/jobs/${j.id}`, label: j.name, kind: "job" as const, detail: j.namespace })),
          ...found.data.endpoints.nodes.map((e) => ({ href: `/endpoints/${e.id}`, label: e.name, kind: "endpoint" as const, detail: e.hostname })),
        ]
      : []),
    ...matchingPages(text),
  ];
  useEffect(() => setActive(0), [text, found.data]);
  const go = (choice: Choice | undefined) => {
    if (!choice) return;
    onClose();
    navigate(choice.href);
  };
  const onKeyDown = (event: ReactKeyboardEvent<HTMLInputElement>) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      setActive((i) => (choices.length ? (i + step + choices.length) % choices.length : 0));
    } else if (event.key === "Enter") {
      event.preventDefault();
      go(choices[active]);
    }
  };
  return (
    <Overlay label="Go to a job, endpoint or page" onClose={onClose} className="palette">
      <input
        autoFocus
        className="palette-input"
        role="combobox"
        aria-expanded="true"
        aria-controls="palette-list"
        aria-activedescendant={choices[active] ? `palette-${active}` : undefined}
        aria-autocomplete="list"
        aria-label="Go to a job, endpoint or page"
        placeholder="Jump to a job, endpoint or page…"
        value={text}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
        data-testid="palette-input"
      />
      <ul id="palette-list" role="listbox" className="plain palette-list" aria-busy={stale || found.loading} data-testid="palette-list">
        {choices.map((choice, i) => (
          <li
            key={choice.kind + choice.href}
            id={`palette-${i}`}
            role="option"
            aria-selected={i === active}
            className={i === active ? "active" : ""}
            onMouseMove={() => setActive(i)}
            onClick={() => go(choice)}
            data-kind={choice.kind}
          >
            <span className="badge badge-muted">{choice.kind}</span> {choice.label}
            {choice.detail && <span className="muted small"> {choice.detail}</span>}
          </li>
        ))}
      </ul>
      {search && !stale && found.data && choices.length === 0 && <p className="muted">Nothing matches “{text}”.</p>}
      <ErrorNote error={found.error} />
    </Overlay>
  );
}
