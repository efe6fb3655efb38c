import type pg from "pg";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import { readQuotaVersion } from "@/lib/quota/version";
import { DEMO_ADMIN } from "@/lib/seed/demo";

import { builtAction, callAction } from "../support/actions";
import { launchChromium, screenshot, signIn } from "../support/browser";
import { rawDb } from "../support/db";
import { sessionCookieFor } from "../support/session";

/**
 * The audit log page in Chromium: a settings change made in the settings page and a status change
 * made over the action appear with their before → after, the filters live in the URL, times are
 * in the viewer's named time zone, and the page fits a phone in both languages.
 */
const base = inject("baseURL");
let browser: Browser;
let c: pg.Client;
let savedDefaults: string | null = null;
const carol = "carol.w@example.net";
const alice = "alice@example.com";
let undoUser = 0;

async function adminPage(locale: "en" | "zh", viewport = { width: 1366, height: 900 }): Promise<Page> {
  const ctx = await browser.newContext({
    locale: locale === "zh" ? "zh-CN" : "en-US",
    timezoneId: "Asia/Tokyo",
    viewport,
  });
  const page = await ctx.newPage();
  await page.goto(`${base}/${locale}/sign-in`);
  await signIn(page, DEMO_ADMIN.email, DEMO_ADMIN.password);
  await page.waitForURL(`${base}/${locale}/dashboard`);
  return page;
}

beforeAll(async () => {
  browser = await launchChromium();
  c = await rawDb();
  const { rows } = await c.query("SELECT value FROM settings WHERE key = 'default_platform_quotas'");
  savedDefaults = rows[0]?.value ?? null;
});
afterAll(async () => {
  // Leave the shared defaults and carol as other files expect them.
  if (savedDefaults === null) await c.query("DELETE FROM settings WHERE key = 'default_platform_quotas'");
  else await c.query("UPDATE settings SET value = $1 WHERE key = 'default_platform_quotas'", [savedDefaults]);
  await c.query("UPDATE users SET status = 'active' WHERE email = $1", [carol]);
  if (undoUser) await c.query("DELETE FROM users WHERE id = $1", [undoUser]);
  await browser?.close();
  await c.end();
});

describe("audit log page", () => {
  it("en: a settings save and a status change show who, when (named zone) and before → after; filters are URL state", async () => {
    const page = await adminPage("en");
    await page.goto(`${base}/en/admin/settings`);
    await page.locator('[data-cell="system.gemini.weekly"]').fill("7.25");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await expect.poll(() => page.getByTestId("toast").textContent()).toBe("Quota defaults saved.");

    const carolId = String((await c.query("SELECT id FROM users WHERE email = $1", [carol])).rows[0].id);
    const cookie = await sessionCookieFor(DEMO_ADMIN.email);
    const r = await callAction(
      base,
      builtAction("setUserStatusAction"),
      [{ userId: Number(carolId), status: "disabled" }],
      cookie,
    );
    expect(r.body).toContain('"ok":true');

    await page.goto(`${base}/en/admin/audit`);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Audit log");
    expect(await page.getByTestId("audit-time-zone").textContent()).toBe("Times in Asia/Tokyo");
    const first = page.getByTestId("audit-entry").first();
    expect(await first.getAttribute("data-action")).toBe("user.status.update");
    expect(await first.textContent()).toContain(`${carol} (#${carolId})`);
    expect(await first.textContent()).toContain("Status: active → disabled");

    // Kind filter through the form: the URL carries it, the list holds only that kind.
    await page.getByLabel("Kind").selectOption("quota_defaults");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/kind=quota_defaults/);
    const actions = await page
      .getByTestId("audit-entry")
      .evaluateAll((els) => els.map((e) => e.getAttribute("data-action")));
    expect(actions.length).toBeGreaterThan(0);
    expect(new Set(actions)).toEqual(new Set(["settings.quota_defaults.update"]));
    const cellText = await page
      .getByTestId("audit-entry")
      .first()
      .locator('[data-testid="audit-matrix"] tr[data-platform="gemini"] td[data-window="weekly"]')
      .textContent();
    expect(cellText).toMatch(/→ \$7\.25$/);
    await screenshot(page, "audit-en-desktop");

    // A user filter by e-mail (another case) finds carol's change only.
    await page.goto(`${base}/en/admin/audit?user=${encodeURIComponent(carol.toUpperCase())}`);
    const targets = await page.getByTestId("audit-entry").evaluateAll((els) => els.map((e) => e.textContent ?? ""));
    expect(targets.length).toBeGreaterThan(0);
    for (const t of targets) expect(t).toContain(`(#${carolId})`);
    // The quota modal's "last change" links to this user's history.
    await page.goto(`${base}/en/admin/users?q=carol.w`);
    await page.getByRole("button", { name: `Platform quotas of ${carol}` }).click();
    await page.getByRole("dialog").getByTestId("modal-history-link").click();
    await page.waitForURL(new RegExp(`/en/admin/audit\\?user=${carolId}$`));
    expect(await page.getByTestId("audit-entry").first().textContent()).toContain("Status: active → disabled");

    // Switching the language keeps the list's filters (issue 13 #7: the switcher dropped the query).
    await page.goto(`${base}/en/admin/audit?kind=user_status&user=${carolId}`);
    await page.getByLabel("Language").selectOption("zh");
    await page.waitForURL(`${base}/zh/admin/audit?kind=user_status&user=${carolId}`);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("审计日志");
    expect(await page.getByLabel("类型").inputValue()).toBe("user_status");
    await page.getByLabel("语言").selectOption("en");
    await page.waitForURL(`${base}/en/admin/audit?kind=user_status&user=${carolId}`);

    // Garbage in the URL is ignored, never an error page.
    const bad = await page.goto(`${base}/en/admin/audit?kind=nope&from=2026-13-45&page=-3&actor=%00`);
    expect(bad?.status()).toBe(200);
    await page.context().close();
  });

  it.each([
    ["en", "Audit log"],
    ["zh", "审计日志"],
  ] as const)("%s on a 390×844 phone: no horizontal page scroll, entries readable", async (locale, title) => {
    const page = await adminPage(locale, { width: 390, height: 844 });
    await page.goto(`${base}/${locale}/admin/audit`);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe(title);
    // Nothing sticks out of the viewport (named, so a failure says which element widened the page).
    const wide = await page.evaluate(() =>
      [...document.querySelectorAll("body *")]
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5 && !e.closest(".overflow-x-auto"))
        .map((e) => `${e.tagName.toLowerCase()}.${e.className} ${(e.textContent ?? "").slice(0, 40)}`),
    );
    expect(wide).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBe(390);
    // No label rendered one character per line (zh): every entry title is a single line.
    const heights = await page
      .getByTestId("audit-entry")
      .locator("h2")
      .evaluateAll((els) =>
        els.map((e) => [e.getBoundingClientRect().height, parseFloat(getComputedStyle(e).lineHeight)]),
      );
    expect(heights.length).toBeGreaterThan(0);
    for (const [h, line] of heights) expect(h).toBeLessThanOrEqual(line * 1.5);
    await screenshot(page, `audit-${locale}-phone`);
    await page.context().close();
  });

  it("undo: a conflicting undo is refused with a message (zh), the newest is undone as a new audited change (en); only admins may", async () => {
    // A user of this test's own, so no other file sees its limits move.
    const email = `undo-e2e-${Date.now()}@example.com`;
    undoUser = Number(
      (await c.query("INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id", [email])).rows[0].id,
    );
    const cookie = await sessionCookieFor(DEMO_ADMIN.email);
    const save = builtAction("saveUserPlatformQuotasAction");
    const quotas = (daily: number) =>
      Object.fromEntries(
        DEFAULT_PLATFORMS.map((p) => [p, { daily: p === "anthropic" ? daily : null, weekly: null, monthly: null }]),
      );
    const entryIds: number[] = [];
    for (const daily of [8, 12]) {
      const version = await readQuotaVersion(c, undoUser);
      const r = await callAction(base, save, [{ userId: undoUser, version, quotas: quotas(daily) }], cookie);
      expect(r.body).toContain('"ok":true');
      entryIds.push(
        Number(
          (await c.query("SELECT max(id) AS id FROM console_audit_logs WHERE target_id = $1", [String(undoUser)]))
            .rows[0].id,
        ),
      );
    }
    const [first, second] = entryIds;
    const daily = async () =>
      (
        await c.query(
          "SELECT daily_limit_usd::float8 AS d FROM user_platform_quotas WHERE user_id = $1 AND platform = 'anthropic' AND deleted_at IS NULL",
          [undoUser],
        )
      ).rows[0].d;

    // zh: undoing the older entry would overwrite the newer one — refused, in Chinese, nothing changes.
    const zh = await adminPage("zh");
    await zh.goto(`${base}/zh/admin/audit?user=${undoUser}`);
    await zh.getByRole("button", { name: `撤销修改 #${first}` }).click();
    await zh.getByRole("alertdialog").getByRole("button", { name: "撤销修改" }).click();
    await expect
      .poll(() => zh.locator(`#audit-${first}`).getByRole("alert").textContent())
      .toBe("未撤销：此记录之后这些值又被修改过。请先撤销较新的修改，或直接编辑。");
    expect(await daily()).toBe(12);
    await zh.context().close();

    // en: undo the newest — the before value is back, and the undo is an entry of its own.
    const page = await adminPage("en");
    await page.goto(`${base}/en/admin/audit?user=${undoUser}`);
    await page.getByRole("button", { name: `Undo change #${second}` }).click();
    await page.getByRole("alertdialog").getByRole("button", { name: "Undo change" }).click();
    await expect
      .poll(() => page.getByTestId("audit-undo-done").textContent())
      .toBe("Undone: the restore is recorded as a new change.");
    expect(await daily()).toBe(8);
    await page.goto(`${base}/en/admin/audit?user=${undoUser}`);
    const top = page.getByTestId("audit-entry").first();
    expect(await top.getByTestId("audit-undo-of").textContent()).toBe(`Undoes change #${second}`);
    expect(await top.locator('tr[data-platform="anthropic"] td[data-window="daily"]').textContent()).toMatch(
      /^\$12(\.0+)? → \$8(\.0+)?$/,
    );
    expect(await page.locator(`#audit-${second}`).getByTestId("audit-undone-by").textContent()).toMatch(
      /^Undone by change #\d+$/,
    );
    await screenshot(page, "audit-undo-en-desktop");
    await page.context().close();

    // The action checks the role before it reads its input: a user's session is FORBIDDEN even for
    // garbage, no session is UNAUTHENTICATED (guards the regression of a public undo endpoint).
    const undo = builtAction("undoAuditEntryAction");
    const asUser = await callAction(base, undo, [{ nope: true }], await sessionCookieFor(alice));
    expect(asUser.body).toContain('"code":"FORBIDDEN"');
    const anonymous = await callAction(base, undo, [{ entryId: first }]);
    expect(anonymous.body).toContain('"code":"UNAUTHENTICATED"');
    expect(await daily()).toBe(8);
  });
});
