import { useCallback, useEffect, useRef, useState } from "preact/hooks";

/** How often pages re-read what they show: live without a reload, cheap for the server. */
export const LIVE_INTERVAL_MS = 2_000;

export interface Polled<T> {
  data: T | null;
  error: Error | null;
  refresh: () => void;
}

/**
 * Reads `load` now and then every LIVE_INTERVAL_MS while the page is shown (and the tab
 * visible), so counts and progress change on screen as they change in the store.
 */
export function usePoll<T>(load: () => Promise<T>, deps: unknown[], intervalMs = LIVE_INTERVAL_MS): Polled<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const latest = useRef(load);
  latest.current = load;
  const generation = useRef(0);
  const refresh = useCallback(() => {
    const mine = ++generation.current;
    latest.current().then(
      (value) => {
        if (mine !== generation.current) return;
        setData(value);
        setError(null);
        document.dispatchEvent(new CustomEvent("checkback:updated"));
      },
      (err: Error) => {
        if (mine === generation.current) setError(err);
      },
    );
  }, []);
  useEffect(() => {
    setData(null);
    refresh();
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") refresh();
    }, intervalMs);
    return () => {
      generation.current++;
      clearInterval(timer);
    };
  }, deps);
  return { data, error, refresh };
}
