"use client";

import { lazy, Suspense, useSyncExternalStore, type ComponentProps } from "react";

/**
 * The usage-history panel (and uPlot inside it) as a chunk of its own, imported in the browser only
 * after hydration — nothing of it is rendered on the server or named in the page's HTML, so a page
 * that shows it gains only this loader in its first load. React.lazy rather than next/dynamic:
 * next/dynamic brings its own client runtime (+2.3 kB gzipped on the dashboard, measured), React.lazy
 * is in React already. The placeholder keeps the chart's height so nothing below it moves.
 */
const Panel = lazy(() => import("./lazy-panel").then((m) => ({ default: m.LazyPanel })));

const noSubscribe = () => () => {};

export function LazyUsageHistory(props: ComponentProps<typeof Panel>) {
  const mounted = useSyncExternalStore(
    noSubscribe,
    () => true,
    () => false,
  );
  const placeholder = <div className="h-72" aria-hidden="true" />;
  return mounted ? (
    <Suspense fallback={placeholder}>
      <Panel {...props} />
    </Suspense>
  ) : (
    placeholder
  );
}
