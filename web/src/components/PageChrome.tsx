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

/** Set document.title from the page's heading; focus the heading when `path` changes. */
export function usePageChange(path: string): void {
  const first = useRef(true);
  useEffect(() => {
    document.title = titleFor(path);
    const main = document.getElementById("content");
    if (!main) return;
    const moveFocus = !first.current;
    first.current = false;
    // A field the page focused itself (autoFocus) keeps the focus.
    const pageTookFocus = () => main.contains(document.activeElement) && document.activeElement !== main;
    if (moveFocus && !pageTookFocus()) main.focus({ preventScroll: true });
    const settle = (): boolean => {
      const heading = main.querySelector("h1");
      if (!heading) return false;
      document.title = titleFromHeading(heading.dataset.title ?? heading.textContent, path);
      if (moveFocus && !pageTookFocus()) {
        heading.setAttribute("tabindex", "-1");
        heading.focus({ preventScroll: true });
      }
      return true;
    };
    if (settle()) return;
    // Pages load their data after the first render: wait for the heading, then stop watching
    // (a page without one, such as the playground, is left alone after a few seconds).
    const observer = new MutationObserver(() => settle() && observer.disconnect());
    observer.observe(main, { childList: true, subtree: true });
    const stop = setTimeout(() => observer.disconnect(), 5000);
    return () => {
      observer.disconnect();
      clearTimeout(stop);
    };
  }, [path]);
}
