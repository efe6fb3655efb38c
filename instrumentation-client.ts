import { z } from "zod";

// Runs in the browser before the app hydrates. zod probes for eval support with `new Function`
// the first time it parses an object; the CSP forbids eval (lib/security/headers.ts), and the
// browser reports that caught probe as a policy violation. jitless skips the probe (same results).
z.config({ jitless: true });
