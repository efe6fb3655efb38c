import zlib from "node:zlib";

import { get, type Ctx } from "./http";
import { BenchError } from "./run";
import { printTable } from "./table";

// First-load JavaScript of a page, gzipped: every /_next/static/…js named by a <script src>,
// <link rel="modulepreload"> or <link rel="preload" as="script"> of the page, fetched once each.

export type Chunk = { url: string; rawBytes: number; gzipBytes: number; via: string; contains: string };

/** Attributes of one start tag (names lower-cased; valueless attributes map to ""). */
function attrs(tag: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of tag.matchAll(/([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g)) {
    m.set(a[1].toLowerCase(), (a[2] ?? a[3] ?? a[4] ?? "").replace(/&amp;/g, "&"));
  }
  return m;
}

/** How a `<script nomodule>` is listed: browsers that support modules never fetch it. */
const NOMODULE = "script nomodule";

/** Same-origin /_next/static/ JavaScript URLs named by the page's tags, with the kind of tag. */
function scriptUrls(html: string): Map<string, string> {
  const found = new Map<string, string>();
  const isJs = (u: string | undefined): u is string =>
    !!u && u.startsWith("/_next/static/") && /\.m?js$/.test(u.split(/[?#]/)[0]);
  for (const t of html.matchAll(/<script\b[^>]*>/gi)) {
    const a = attrs(t[0].slice(7));
    const src = a.get("src");
    if (isJs(src) && !found.has(src)) found.set(src, a.has("nomodule") ? NOMODULE : "script");
  }
  for (const t of html.matchAll(/<link\b[^>]*>/gi)) {
    const a = attrs(t[0].slice(5));
    const rel = (a.get("rel") ?? "").toLowerCase().split(/\s+/);
    const href = a.get("href");
    const kind = rel.includes("modulepreload")
      ? "modulepreload"
      : rel.includes("preload") && a.get("as") === "script"
        ? "preload"
        : null;
    if (kind && isJs(href) && !found.has(href)) found.set(href, kind);
  }
  return found;
}

/** /_next/static/…js paths mentioned inside the inline RSC payload (chunks of client components). */
function rscChunkRefs(html: string): Set<string> {
  const refs = new Set<string>();
  for (const m of html.matchAll(/<script\b[^>]*>self\.__next_f\.push\(([\s\S]*?)\)<\/script>/g)) {
    for (const r of m[1].matchAll(/(?:\/_next\/)?static\/chunks\/[A-Za-z0-9_\-./~]+?\.js/g)) {
      refs.add(r[0].startsWith("/_next/") ? r[0] : `/_next/${r[0]}`);
    }
  }
  return refs;
}

/** Distinctive strings that survive minification → what a chunk most likely holds. */
const CONTENT_HINTS: Array<[RegExp, string]> = [
  [/__core-js_shared__/, "core-js polyfills"],
  [/X-Request-URL/, "fetch polyfill"],
  [/onCompositionStart|suppressHydrationWarning/, "react-dom client"],
  [/resolved_model|The reply ended\./, "react-server-dom (RSC client)"],
  [/next-router-state-tree|serverActionReducer|x-nextjs-/, "next app router"],
  [/NEXT_REDIRECT|isNextRouterError|ClientPageRoot|HTTPAccessFallbackBoundary/, "next client runtime"],
  [/Invalid number skeleton|UNMATCHED_CLOSING_TAG/, "ICU message parser (intl-messageformat)"],
  [/MISSING_MESSAGE|INSUFFICIENT_PATH|NEXT_LOCALE/, "next-intl/use-intl"],
  [/QueryClient|CancelledError|observerResultsUpdated|No mutationFn found/, "@tanstack/react-query"],
  [/Invalid DateTime/, "luxon"],
  [/ZodError/, "zod"],
  [/data-quota-card/, "dashboard quota cards (app)"],
  [/LocaleSwitcher|TimeZoneCookie/, "console shell (app)"],
  [/TURBOPACK_ASSET_SUFFIX/, "turbopack runtime"],
];

function contentHint(js: string): string {
  const hits = CONTENT_HINTS.filter(([re]) => re.test(js)).map(([, name]) => name);
  return hits.length ? hits.join(", ") : "?";
}

/** The page's first-load JavaScript, largest chunk (gzipped at `gzipLevel`) first; `marker` must be in the HTML. */
export async function firstLoadJs(ctx: Ctx, pagePath: string, marker: string, gzipLevel: number) {
  const page = await get(ctx.server.base, ctx.cookie, pagePath);
  if (!page.body.includes(marker)) throw new BenchError(`GET ${pagePath}: 200 but no ${marker}`);
  const urls = scriptUrls(page.body);
  const rscOnly = [...rscChunkRefs(page.body)].filter((u) => !urls.has(u));
  const chunks: Chunk[] = [];
  for (const [url, via] of urls) {
    const res = await fetch(ctx.server.base + url, { signal: AbortSignal.timeout(30_000) });
    const buf = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200) throw new BenchError(`GET ${url}: HTTP ${res.status}`);
    const gzipBytes = zlib.gzipSync(buf, { level: gzipLevel }).length;
    chunks.push({ url, via, rawBytes: buf.length, gzipBytes, contains: contentHint(buf.toString("utf8")) });
  }
  chunks.sort((a, b) => b.gzipBytes - a.gzipBytes);
  const sum = (cs: Chunk[], k: "rawBytes" | "gzipBytes") => cs.reduce((s, c) => s + c[k], 0);
  const modules = chunks.filter((c) => c.via !== NOMODULE);
  return {
    chunks,
    rawBytes: sum(chunks, "rawBytes"),
    gzipBytes: sum(chunks, "gzipBytes"),
    withoutNomodule: {
      chunks: modules.length,
      rawBytes: sum(modules, "rawBytes"),
      gzipBytes: sum(modules, "gzipBytes"),
    },
    rscOnly,
    htmlBytes: page.bytes,
    htmlGzipBytes: zlib.gzipSync(Buffer.from(page.body), { level: gzipLevel }).length,
  };
}

const kB = (bytes: number) => (bytes / 1000).toFixed(1);

/** The totals, the five largest chunks and what the nomodule and RSC-only chunks change. */
export function printFirstLoadJs(pagePath: string, js: Awaited<ReturnType<typeof firstLoadJs>>, gzipLevel: number) {
  console.log(
    `first-load JS of ${pagePath}: ${js.chunks.length} chunks, ${kB(js.rawBytes)} kB raw, ${kB(js.gzipBytes)} kB gzipped (level ${gzipLevel}); ` +
      `HTML ${kB(js.htmlBytes)} kB raw, ${kB(js.htmlGzipBytes)} kB gzipped`,
  );
  console.log("largest chunks (gzipped):");
  printTable(
    ["  chunk", "via", "raw kB", "gzip kB", "looks like"],
    js.chunks.slice(0, 5).map((c) => [`  ${c.url}`, c.via, kB(c.rawBytes), kB(c.gzipBytes), c.contains]),
    "llrrl",
  );
  const m = js.withoutNomodule;
  if (m.chunks < js.chunks.length) {
    console.log(
      `without the ${js.chunks.length - m.chunks} <script nomodule> chunk(s) (never fetched by browsers that support modules): ` +
        `${m.chunks} chunks, ${kB(m.rawBytes)} kB raw, ${kB(m.gzipBytes)} kB gzipped`,
    );
  }
  if (js.rscOnly.length > 0)
    console.log(`chunks named only in the RSC payload (not counted): ${js.rscOnly.join(", ")}`);
}
