import { config } from "zod";

/**
 * Imported (for this side effect) before zod by modules that also run in the browser
 * (lib/settings/quota-schema.ts: the quota forms parse limits client-side). In the browser zod
 * probes for eval support with `new Function` the first time it parses an object; the CSP forbids
 * eval (lib/security/headers.ts), and the browser reports that caught probe as a policy violation.
 * jitless skips the probe (same results). Here rather than in instrumentation-client.ts, which put
 * zod (~30 kB gzipped) into every page's first load; `config` alone, so no namespace re-export
 * defeats tree-shaking.
 */
if (typeof window !== "undefined") config({ jitless: true });
