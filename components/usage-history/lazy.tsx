"use client";

import { useFormatter } from "next-intl";
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

const Chart = lazy(() => import("./usage-chart").then((m) => ({ default: m.UsageChart })));

/**
 * A chart of USD per day whose props a server component can pass (no functions): the money format
 * is applied here. uPlot comes in the same lazy way as above (the chart module is its own chunk).
 */
export function LazyMoneyChart(props: Omit<ComponentProps<typeof Chart>, "formatY">) {
  const format = useFormatter();
  const mounted = useSyncExternalStore(
    noSubscribe,
    () => true,
    () => false,
  );
  const placeholder = <div style={{ height: (props.height ?? 260) + 40 }} aria-hidden="true" />;
  return mounted ? (
    <Suspense fallback={placeholder}>
      <Chart {...props} formatY={(v) => format.number(v, "usd")} />
    </Suspense>
  ) : (
    placeholder
  );
}
