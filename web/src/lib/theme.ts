// Light, dark or follow the system; remembered in localStorage.
import { useEffect } from "react";
export type ThemeChoice = "light" | "dark" | "system";
const KEY = "crontopus.theme";

export function storedTheme(): ThemeChoice {
  const value = localStorage.getItem(KEY);
  return value === "light" || value === "dark" ? value : "system";
}

/** The theme in effect for a choice, given whether the system prefers dark. */
export function effectiveTheme(choice: ThemeChoice, systemDark: boolean): "light" | "dark" {
  return choice === "system" ? (systemDark ? "dark" : "light") : choice;
}

export function applyTheme(choice: ThemeChoice): void {
  localStorage.setItem(KEY, choice);
  const dark = window.matchMedia?.("(prefers-color-scheme: dark)").matches ?? false;
  document.documentElement.dataset.theme = effectiveTheme(choice, dark);
}

/** Apply the remembered choice on pages outside the console's shell (log in, mail links), which
 * have no theme switch, and follow the system's preference while it is "system". */
export function useStoredTheme(): void {
  useEffect(() => {
    const choice = storedTheme();
    applyTheme(choice);
    const media = window.matchMedia?.("(prefers-color-scheme: dark)");
    const follow = () => applyTheme(choice);
    media?.addEventListener("change", follow);
    return () => media?.removeEventListener("change", follow);
  }, []);
}
