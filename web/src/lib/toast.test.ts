import { afterEach, describe, expect, it, vi } from "vitest";
import { dismiss, onToasts, toast, type Toast } from "./toast";

describe("toasts", () => {
  afterEach(() => vi.useRealTimers());

  it("are shown, go by themselves and keep at most three", () => {
    vi.useFakeTimers();
    let shown: Toast[] = [];
    const stop = onToasts((t) => (shown = t));
    toast("one");
    toast("two");
    toast("three");
    toast("four");
    expect(shown.map((t) => t.text)).toEqual(["two", "three", "four"]);
    vi.advanceTimersByTime(5000);
    expect(shown).toEqual([]);
    const id = toast("sticky", "error", 0);
    vi.advanceTimersByTime(60_000);
    expect(shown.map((t) => t.text)).toEqual(["sticky"]);
    dismiss(id);
    expect(shown).toEqual([]);
    stop();
  });
});
