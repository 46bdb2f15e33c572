// What every page gets from the shell: a skip link, a title in the tab, and focus moved to the
// new page's heading after a navigation (screen readers announce it; Tab starts from there).
import { useEffect, useRef } from "react";
import { titleFor, titleFromHeading } from "../lib/pageTitle";

export function SkipLink() {
  return (
    <a className="skip-link" href="#content">
      Skip to content
    </a>
  );
}

/** Keep document.title on the page's heading; focus the heading when `path` changes. */
export function usePageChange(path: string): void {
  const first = useRef(true);
  useEffect(() => {
    document.title = titleFor(path);
    const main = document.getElementById("content");
    if (!main) return;
    const moveFocus = !first.current;
    first.current = false;
    let focused = false;
    const settle = () => {
      const heading = main.querySelector("h1");
      if (heading) document.title = titleFromHeading(heading.textContent, path);
      if (!moveFocus || focused) return;
      // A field the page focused itself (autoFocus) keeps the focus.
      if (main.contains(document.activeElement) && document.activeElement !== main) {
        focused = true;
        return;
      }
      const target = heading ?? main;
      if (!heading && !main.firstElementChild) return;
      if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
      target.focus({ preventScroll: true });
      focused = heading !== null;
    };
    settle();
    // Pages load their data after the first render: follow the heading as it appears or changes.
    const observer = new MutationObserver(settle);
    observer.observe(main, { childList: true, subtree: true, characterData: true });
    return () => observer.disconnect();
  }, [path]);
}
