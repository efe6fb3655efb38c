import Redis from "ioredis";
import type pg from "pg";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { hashPassword } from "@/lib/auth/password";
import { DEMO_USER_PASSWORD } from "@/lib/seed/demo";

import { builtAction, callAction, callFormAction } from "../support/actions";
import { launchChromium, signIn } from "../support/browser";
import { rawDb } from "../support/db";
import { E2E_METRICS_TOKEN, startNextServer, type NextServer } from "../support/e2e-global-setup";
import { COOKIE_NAME, sessionCookieFor } from "../support/session";
import { testEnv } from "../support/test-env";

/**
 * Issue 10 findings 1, 2, 3 and part of 7 at the HTTP boundary of the production build, served as
 * `npm start` serves it (scripts/serve.mjs). Sign-ins are posted the way the sign-in form posts
 * them (a multipart server-action call); the client address is what the server decides it is.
 */
const base = inject("baseURL");
const signInAction = builtAction("signInAction");
const signOutAction = builtAction("signOutAction");
const PASSWORD = "throttle-e2e-pass";
const ROOT = "e2e-throttle-root@example.com";
const SPRAY = Array.from({ length: 50 }, (_, i) => `e2e-spray-${i}@example.com`);

let c: pg.Client;
let r: Redis;

type Outcome = { code: string; retryAfterSeconds?: number; setCookies: string[] };

/** One sign-in attempt: "OK" when it redirected into the console, else the action's code. */
async function attempt(
  url: string,
  email: string,
  password: string,
  opts: { xff?: string; cookie?: string } = {},
): Promise<Outcome> {
  const res = await callFormAction(
    url,
    signInAction,
    { email, password, locale: "en" },
    {
      cookie: opts.cookie,
      headers: opts.xff ? { "X-Forwarded-For": opts.xff } : {},
    },
  );
  const setCookies = res.headers.getSetCookie();
  if (res.headers.get("x-action-redirect")?.startsWith("/en/dashboard")) return { code: "OK", setCookies };
  expect(res.status, res.raw.slice(0, 300)).toBe(200);
  const body = JSON.parse(res.body) as { code: string; retryAfterSeconds?: number };
  return { code: body.code, retryAfterSeconds: body.retryAfterSeconds, setCookies };
}

const tally = (outcomes: Outcome[]) =>
  outcomes.reduce<Record<string, number>>((acc, o) => ({ ...acc, [o.code]: (acc[o.code] ?? 0) + 1 }), {});

/** Forget the failures counted for the suite's own client (127.0.0.1), so later files are unaffected. */
async function forgetLocalClient() {
  const keys = [...(await r.keys("qc:login:pair:*:c:127.0.0.1")), "qc:login:fail:ip:127.0.0.1"];
  await r.del(...keys);
}

beforeAll(async () => {
  c = await rawDb();
  r = new Redis(testEnv().redisUrl);
  const hash = await hashPassword(PASSWORD);
  await c.query(
    `INSERT INTO users (email, password_hash, role) SELECT e, $1, CASE WHEN e = $2 THEN 'admin' ELSE 'user' END
       FROM unnest($3::text[]) AS e ON CONFLICT DO NOTHING`,
    [hash, ROOT, [ROOT, ...SPRAY]],
  );
  await forgetLocalClient();
});
afterAll(async () => {
  await forgetLocalClient();
  await c.query("DELETE FROM users WHERE email = ANY($1)", [[ROOT, ...SPRAY]]);
  await c.end();
  await r.quit();
});

describe("finding 1: exact e-mail matching over HTTP", () => {
  // `_` was an ILIKE wildcard: `_____@example.com` plus alice's password signed in as alice when
  // alice was the first 5-letter match (here admin@example.com comes first, so the spellings below
  // match alice only).
  it("`_____@example.com`-style wildcards with alice's password do not sign in; alice@example.com does", async () => {
    for (const guess of ["_____@example.com", "_lice@example.com", "al_c_@example.com"]) {
      expect((await attempt(base, guess, DEMO_USER_PASSWORD)).code, guess).toBe("INVALID_CREDENTIALS");
    }
    expect((await attempt(base, "Alice@Example.com", DEMO_USER_PASSWORD)).code).toBe("OK");
    await forgetLocalClient();
  });
});

describe("finding 3: no proxy trusted, so X-Forwarded-For buys no fresh tries", () => {
  // With the header's right-most entry as "the client", a rotating header made 200 guesses over
  // 50 accounts look like 200 clients: 0 were refused.
  it("200 guesses over 50 accounts with a rotating X-Forwarded-For: refused after the per-client limit (30)", async () => {
    await forgetLocalClient();
    try {
      const outcomes: Outcome[] = [];
      for (let i = 0; i < 200; i++) {
        outcomes.push(await attempt(base, SPRAY[i % 50], `guess-${i}`, { xff: `198.18.${i >> 8}.${i & 255}` }));
      }
      expect(tally(outcomes)).toEqual({ INVALID_CREDENTIALS: 30, RATE_LIMITED: 170 });
      expect(outcomes.slice(30).every((o) => o.retryAfterSeconds! > 0 && o.retryAfterSeconds! <= 900)).toBe(true);
      // The header did not decide who the client is: the socket peer did.
      expect(await r.get("qc:login:fail:ip:127.0.0.1")).toBe("30");
      expect(await r.keys("qc:login:fail:ip:198.18.*")).toEqual([]);
    } finally {
      await forgetLocalClient();
    }
  }, 600_000);
});

describe("behind a trusted proxy (TRUSTED_PROXIES=127.0.0.1/32, ::1)", () => {
  let proxied: NextServer;
  beforeAll(async () => {
    proxied = await startNextServer({
      ...process.env,
      TRUSTED_PROXIES: "127.0.0.1/32, ::1",
      METRICS_TOKEN: E2E_METRICS_TOKEN,
    });
  });
  afterAll(async () => {
    await proxied?.stop();
  });

  it("takes the client from the header the proxy appended; spoofed entries to its left change nothing", async () => {
    const spoofed: Outcome[] = [];
    for (let i = 0; i < 7; i++)
      spoofed.push(await attempt(proxied.baseURL, SPRAY[0], `spoof-${i}`, { xff: `10.${i}.0.1, 203.0.113.5` }));
    expect(tally(spoofed)).toEqual({ INVALID_CREDENTIALS: 5, RATE_LIMITED: 2 });
    // Positive control: 35 distinct forwarded clients (over the per-client limit of 30) are 35 clients.
    const distinct: Outcome[] = [];
    for (let i = 0; i < 35; i++)
      distinct.push(await attempt(proxied.baseURL, SPRAY[1 + i], `x-${i}`, { xff: `198.19.0.${i + 1}` }));
    expect(tally(distinct)).toEqual({ INVALID_CREDENTIALS: 35 });
  }, 600_000);

  // Finding 2: 5 wrong passwords every 15 minutes, from anywhere, kept the admin out.
  it("an attacker's 100 wrong passwords do not stop the admin on a known device; a new device waits at most 15 minutes", async () => {
    const url = proxied.baseURL;
    const first = await attempt(url, ROOT, PASSWORD, { xff: "198.51.100.10" });
    expect(first.code).toBe("OK");
    const device = first.setCookies.find((h) => h.startsWith("__Host-qc_device="));
    const deviceCookie = device?.split(";")[0];

    const fromOne: Outcome[] = [];
    for (let i = 0; i < 50; i++) fromOne.push(await attempt(url, ROOT, `guess-${i}`, { xff: "203.0.113.66" }));
    expect(tally(fromOne)).toEqual({ INVALID_CREDENTIALS: 5, RATE_LIMITED: 45 });
    const fromMany: Outcome[] = [];
    for (let i = 0; i < 50; i++) fromMany.push(await attempt(url, ROOT, `spray-${i}`, { xff: `203.0.113.${100 + i}` }));
    expect(tally(fromMany)).toEqual({ INVALID_CREDENTIALS: 50 }); // 55 of the per-account ceiling's 100

    expect((await attempt(url, ROOT, PASSWORD, { xff: "198.51.100.10", cookie: deviceCookie })).code).toBe("OK");
    // The known device even at the attacker's own address.
    expect((await attempt(url, ROOT, PASSWORD, { xff: "203.0.113.66", cookie: deviceCookie })).code).toBe("OK");
    // A new device elsewhere: no delay at all while the account is under its ceiling.
    expect((await attempt(url, ROOT, PASSWORD, { xff: "192.0.2.44" })).code).toBe("OK");
    // A new device behind the attacker's address shares that client's back-off: bounded by 15 min.
    const shared = await attempt(url, ROOT, PASSWORD, { xff: "203.0.113.66" });
    expect(shared.code).toBe("RATE_LIMITED");
    expect(shared.retryAfterSeconds).toBeGreaterThan(0);
    expect(shared.retryAfterSeconds).toBeLessThanOrEqual(900);

    // The known device is this cookie: signed, httpOnly, Secure, host-only.
    expect(device).toMatch(/; HttpOnly/i);
    expect(device).toMatch(/; Secure/i);
    expect(device).toMatch(/; Path=\//i);
    expect(device).not.toMatch(/; Domain=/i);

    // Logged and counted: /api/metrics shows the refusals and the lockouts.
    const scrape = await (
      await fetch(`${url}/api/metrics`, { headers: { Authorization: `Bearer ${E2E_METRICS_TOKEN}` } })
    ).text();
    const value = (name: string) =>
      Number(new RegExp(`^${name.replace(/[{}"]/g, "\\$&")} (\\d+)$`, "m").exec(scrape)?.[1]);
    expect(value('qc_signin_throttled_total{scope="pair"}')).toBeGreaterThanOrEqual(47);
    expect(value('qc_signin_lockouts_total{scope="pair"}')).toBeGreaterThanOrEqual(2);
    expect(proxied.output()).not.toContain(ROOT);
  }, 600_000);
});

describe("finding 7: sign-out and malformed sign-in calls", () => {
  // `cookies().delete()` sent `__Host-qc_session=; Path=/; Expires=…` without Secure, which a
  // browser ignores for a __Host- cookie: it kept the dead cookie.
  it("sign-out expires __Host-qc_session with the attributes it was set with, and ends the session", async () => {
    const cookie = await sessionCookieFor("alice@example.com");
    const res = await callAction(base, signOutAction, [{ locale: "en" }], cookie);
    const expired = res.setCookies.find((h) => h.startsWith(`${COOKIE_NAME}=`));
    expect(expired).toBeDefined();
    expect(expired).toMatch(new RegExp(`^${COOKIE_NAME}=;`));
    expect(expired).toMatch(/; Secure/i);
    expect(expired).toMatch(/; Path=\/(;|$)/i);
    expect(expired).toMatch(/; HttpOnly/i);
    expect(expired).toMatch(/; (Max-Age=0|Expires=Thu, 01 Jan 1970)/i);
    expect(expired).not.toMatch(/; Domain=/i);
    // The revoked cookie no longer opens a page.
    const page = await fetch(`${base}/en/dashboard`, { headers: { Cookie: cookie }, redirect: "manual" });
    expect(page.status).toBe(307);
  });

  it("in Chromium the session cookie is gone after signing out; the device cookie stays", async () => {
    const browser: Browser = await launchChromium();
    try {
      const ctx = await browser.newContext({ locale: "en-US" });
      const page = await ctx.newPage();
      await page.goto(`${base}/en/sign-in`);
      await signIn(page, "bob.dev@example.org", DEMO_USER_PASSWORD);
      await page.waitForURL(`${base}/en/dashboard`);
      expect((await ctx.cookies()).map((k) => k.name)).toEqual(
        expect.arrayContaining([COOKIE_NAME, "__Host-qc_device"]),
      );
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.waitForURL(`${base}/en/sign-in`);
      const names = (await ctx.cookies()).map((k) => k.name);
      expect(names).not.toContain(COOKIE_NAME);
      expect(names).toContain("__Host-qc_device");
    } finally {
      await browser.close();
      await forgetLocalClient();
    }
  });

  // The action took its FormData on trust: `formData.get` on anything else threw (500).
  it("signInAction answers INVALID_INPUT, not 500, to arguments that are not FormData", async () => {
    for (const args of [
      '[{}, {"email": "alice@example.com", "password": "x"}]',
      "[{}, null]",
      "[{}]",
      '[null, "email=alice@example.com"]',
    ]) {
      const res = await callAction(base, signInAction, args);
      expect(res.status, args).toBe(200);
      expect(JSON.parse(res.body), args).toEqual({ code: "INVALID_INPUT" });
    }
  });
});
