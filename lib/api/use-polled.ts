import { useEffect, useState } from "react";

/** Wait before the one retry of a failed refresh (React Query's first retry delay). */
const RETRY_MS = 1_000;

export type Polled<T> = { data: T; error: boolean };

/**
 * A server-rendered value kept fresh in the browser: `fetcher` every `intervalMs` while the tab is
 * visible (skipped while hidden), at once when the tab becomes visible or the window gains focus and
 * the value is older than `staleMs`, one retry after a failure; a superseded or unmounted request is
 * aborted. `error`: the last refresh failed (the last good value stays). A new `initial` from a
 * server re-render (router.refresh) replaces the value. What React Query did for the console's two
 * always-on polled reads (the dashboard's quota cards, the cache banner), without shipping it on
 * every console page (issue 14: first-load JS). `fetcher` must be stable (a module-level function).
 */
export function usePolled<T>(
  fetcher: (o: { signal: AbortSignal }) => Promise<T>,
  { initial, intervalMs, staleMs = 5_000 }: { initial: T; intervalMs: number; staleMs?: number },
): Polled<T> {
  const [state, setState] = useState<Polled<T>>({ data: initial, error: false });
  const [shown, setShown] = useState(initial);
  if (initial !== shown) {
    setShown(initial);
    setState({ data: initial, error: false });
  }
  useEffect(() => {
    let updatedAt = Date.now();
    let inFlight: AbortController | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const run = async (attempt = 0) => {
      if (inFlight || stopped) return;
      const ac = new AbortController();
      inFlight = ac;
      try {
        const data = await fetcher({ signal: ac.signal });
        if (stopped) return;
        updatedAt = Date.now();
        setState({ data, error: false });
      } catch {
        if (stopped) return;
        if (attempt === 0) retry = setTimeout(() => void run(1), RETRY_MS);
        else setState((s) => ({ ...s, error: true }));
      } finally {
        if (inFlight === ac) inFlight = null;
      }
    };
    const visible = () => document.visibilityState === "visible";
    const tick = setInterval(() => visible() && void run(), intervalMs);
    const freshen = () => visible() && Date.now() - updatedAt >= staleMs && void run();
    window.addEventListener("focus", freshen);
    document.addEventListener("visibilitychange", freshen);
    return () => {
      stopped = true;
      clearInterval(tick);
      clearTimeout(retry);
      inFlight?.abort();
      window.removeEventListener("focus", freshen);
      document.removeEventListener("visibilitychange", freshen);
    };
  }, [fetcher, intervalMs, staleMs]);
  return state;
}
