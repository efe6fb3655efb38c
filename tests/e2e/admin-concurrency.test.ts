import type pg from "pg";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { DEMO_ADMIN } from "@/lib/seed/demo";

import { builtAction, callAction } from "../support/actions";
import { launchChromium, screenshot, signIn } from "../support/browser";
import { rawDb } from "../support/db";
import { BOOTSTRAP_ADMIN } from "../support/e2e-global-setup";
import { sessionCookieFor } from "../support/session";

/**
 * Two admins at once, against the production build (issue 10 §6 and §7): a stale quota modal is
 * refused with a localized conflict and a reload instead of overwriting the other admin's change;
 * the role buttons keep at least one active admin and end the changed user's sessions.
 */
const base = inject("baseURL");
let browser: Browser;
let c: pg.Client;
const created: number[] = [];

async function newUser(email: string, role: "admin" | "user" = "user"): Promise<number> {
  const { rows } = await c.query("INSERT INTO users (email, password_hash, role) VALUES ($1, 'x', $2) RETURNING id", [
    email,
    role,
  ]);
  created.push(Number(rows[0].id));
  return Number(rows[0].id);
}

async function adminPage(locale: "en" | "zh", who: { email: string; password: string }): Promise<Page> {
  const ctx = await browser.newContext({ locale: locale === "zh" ? "zh-CN" : "en-US" });
  const page = await ctx.newPage();
  page.on("dialog", (d) => void d.accept());
  await page.goto(`${base}/${locale}/sign-in`);
  await signIn(page, who.email, who.password);
  await page.waitForURL(`${base}/${locale}/dashboard`);
  return page;
}

const me = async (cookie: string) => {
  const res = await fetch(`${base}/api/v1/me`, { headers: { Cookie: cookie } });
  return res.status === 200 ? (await res.json()).data.role : res.status;
};

beforeAll(async () => {
  browser = await launchChromium();
  c = await rawDb();
});
afterAll(async () => {
  await browser?.close();
  if (created.length) await c.query("DELETE FROM users WHERE id = ANY($1::bigint[])", [created]);
  await c.end();
});

describe("per-user quotas: a stale modal cannot overwrite another admin's save", () => {
  it("B (en) sets openai daily 5; A (zh) saves anthropic from the modal opened before → 冲突, openai still 5; reload → A's save keeps it", async () => {
    const target = await newUser("conflict-target@example.com");
    const a = await adminPage("zh", DEMO_ADMIN);
    const b = await adminPage("en", BOOTSTRAP_ADMIN);
    const open = async (page: Page, name: string) => {
      await page.goto(`${base}/${page.url().includes("/zh/") ? "zh" : "en"}/admin/users?q=conflict-target`);
      await page.locator(`tr[data-testid="user-row-${target}"]`).getByRole("button", { name }).click();
      const dialog = page.getByRole("dialog");
      await dialog.locator('[data-cell="quotas.openai.daily"]').waitFor();
      return dialog;
    };
    const dialogA = await open(a, "conflict-target@example.com 的平台限额");
    const dialogB = await open(b, "Platform quotas of conflict-target@example.com");

    await dialogB.locator('[data-cell="quotas.openai.daily"]').fill("5");
    await dialogB.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => b.getByTestId("toast").textContent()).toBe("Platform quotas updated");

    await dialogA.locator('[data-cell="quotas.anthropic.daily"]').fill("7");
    await dialogA.getByRole("button", { name: "保存" }).click();
    const conflict = dialogA.getByTestId("quota-conflict");
    await expect
      .poll(() => conflict.textContent())
      .toContain("你打开此窗口后，其他管理员修改了该用户的限额，本次修改未保存。");
    expect(await conflict.getAttribute("role")).toBe("alert");
    expect(await dialogA.getByRole("button", { name: "保存" }).isDisabled()).toBe(true);
    const limits = async () =>
      (
        await c.query(
          "SELECT platform, daily_limit_usd::float8 AS d FROM user_platform_quotas WHERE user_id = $1 AND deleted_at IS NULL AND daily_limit_usd IS NOT NULL ORDER BY platform",
          [target],
        )
      ).rows;
    const audits = async () =>
      (
        await c.query(
          "SELECT actor_email, changes FROM console_audit_logs WHERE target_type = 'user' AND target_id = $1 ORDER BY id",
          [String(target)],
        )
      ).rows;
    expect(await limits()).toEqual([{ platform: "openai", d: 5 }]);
    expect((await audits()).map((r) => r.actor_email)).toEqual([BOOTSTRAP_ADMIN.email]);
    await screenshot(a, "user-quota-conflict-zh");

    await conflict.getByRole("button", { name: "重新加载最新值" }).click();
    await expect.poll(() => dialogA.locator('[data-cell="quotas.openai.daily"]').inputValue()).toBe("5");
    expect(await dialogA.locator('[data-cell="quotas.anthropic.daily"]').inputValue()).toBe("");
    expect(await conflict.count()).toBe(0);

    await dialogA.locator('[data-cell="quotas.anthropic.daily"]').fill("7");
    await dialogA.getByRole("button", { name: "保存" }).click();
    await expect.poll(() => a.getByTestId("toast").textContent()).toBe("平台限额已更新");
    expect(await limits()).toEqual([
      { platform: "anthropic", d: 7 },
      { platform: "openai", d: 5 },
    ]);
    const trail = await audits();
    expect(trail.map((r) => r.actor_email)).toEqual([BOOTSTRAP_ADMIN.email, DEMO_ADMIN.email]);
    expect(trail[1].changes).toEqual([
      { key: "platform_quota", platform: "anthropic", window: "daily", before: null, after: 7 },
    ]);
    await a.context().close();
    await b.context().close();
  });

  it("an edit survives the admin's own window reset (the reset's version is adopted), not someone else's save", async () => {
    const target = await newUser("reset-target@example.com");
    await c.query("INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd) VALUES ($1, 'gemini', 3)", [
      target,
    ]);
    const a = await adminPage("en", DEMO_ADMIN);
    await a.goto(`${base}/en/admin/users?q=reset-target`);
    await a
      .locator(`tr[data-testid="user-row-${target}"]`)
      .getByRole("button", { name: "Platform quotas of reset-target@example.com" })
      .click();
    const dialog = a.getByRole("dialog");
    await dialog.locator('[data-cell="quotas.gemini.weekly"]').fill("30");
    await dialog.getByRole("button", { name: "Reset daily usage of Gemini" }).click();
    await expect.poll(() => a.getByTestId("toast").textContent()).toBe("Reset Gemini daily usage");
    await dialog.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => a.getByTestId("toast").textContent()).toBe("Platform quotas updated");
    const row = await c.query(
      "SELECT daily_limit_usd::float8 AS d, weekly_limit_usd::float8 AS w FROM user_platform_quotas WHERE user_id = $1 AND platform = 'gemini' AND deleted_at IS NULL",
      [target],
    );
    expect(row.rows).toEqual([{ d: 3, w: 30 }]);
    await a.context().close();
  });
});

describe("roles: make admin / make user", () => {
  it("zh: 设为管理员 promotes (audited) and ends the user's sessions; 设为普通用户 demotes", async () => {
    const target = await newUser("role-target@example.com");
    const targetCookie = await sessionCookieFor("role-target@example.com");
    expect(await me(targetCookie)).toBe("user");
    const page = await adminPage("zh", DEMO_ADMIN);
    await page.goto(`${base}/zh/admin/users?q=role-target`);
    const row = page.locator(`tr[data-testid="user-row-${target}"]`);
    await row.getByRole("button", { name: "将 role-target@example.com 设为管理员" }).click();
    await expect
      .poll(() => row.getByRole("button", { name: "将 role-target@example.com 设为普通用户" }).count())
      .toBe(1);
    expect(await row.locator("td").nth(2).textContent()).toBe("管理员");
    expect((await c.query("SELECT role FROM users WHERE id = $1", [target])).rows[0].role).toBe("admin");
    expect(await me(targetCookie)).toBe(401); // the session opened as a user is gone
    const audit = await c.query(
      "SELECT actor_email, action, changes FROM console_audit_logs WHERE target_type = 'user' AND target_id = $1",
      [String(target)],
    );
    expect(audit.rows).toEqual([
      {
        actor_email: DEMO_ADMIN.email,
        action: "user.role.update",
        changes: [
          { key: "role", before: "user", after: "admin" },
          { key: "sessions_ended", before: null, after: 1 },
        ],
      },
    ]);
    await row.getByRole("button", { name: "将 role-target@example.com 设为普通用户" }).click();
    await expect.poll(() => row.locator("td").nth(2).textContent()).toBe("普通用户");
    await page.context().close();
  });

  it("the last active admin cannot be demoted or disabled (localized), over HTTP and in the page", async () => {
    const others = (
      await c.query(
        "UPDATE users SET status = 'disabled' WHERE role = 'admin' AND status = 'active' AND lower(email) <> $1 RETURNING id",
        [DEMO_ADMIN.email],
      )
    ).rows.map((r) => r.id);
    try {
      const cookie = await sessionCookieFor(DEMO_ADMIN.email);
      const adminId = Number((await c.query("SELECT id FROM users WHERE email = $1", [DEMO_ADMIN.email])).rows[0].id);
      const demote = await callAction(
        base,
        builtAction("setUserRoleAction"),
        [{ userId: adminId, role: "user" }],
        cookie,
      );
      expect(demote.body).toBe('{"ok":false,"code":"LAST_ADMIN"}');
      const disable = await callAction(
        base,
        builtAction("setUserStatusAction"),
        [{ userId: adminId, status: "disabled" }],
        cookie,
      );
      expect(disable.body).toBe('{"ok":false,"code":"CANNOT_DISABLE_SELF"}');
      expect((await c.query("SELECT role, status FROM users WHERE id = $1", [adminId])).rows[0]).toEqual({
        role: "admin",
        status: "active",
      });

      const page = await adminPage("zh", DEMO_ADMIN);
      await page.goto(`${base}/zh/admin/users?q=admin%40example.com`);
      const row = page.locator(`tr[data-testid="user-row-${adminId}"]`);
      await row.getByRole("button", { name: "将 admin@example.com 设为普通用户" }).click();
      await expect
        .poll(() => row.getByRole("alert").textContent())
        .toBe("最后一位正常状态的管理员不能被禁用，也不能改为普通用户。");
      expect((await c.query("SELECT role FROM users WHERE id = $1", [adminId])).rows[0].role).toBe("admin");
      await page.context().close();
    } finally {
      await c.query("UPDATE users SET status = 'active' WHERE id = ANY($1::bigint[])", [others]);
    }
  });

  it("admins changing their own role keep the session they did it from; their other sessions end", async () => {
    await newUser("self-demote@example.com", "admin");
    const current = await sessionCookieFor("self-demote@example.com");
    const other = await sessionCookieFor("self-demote@example.com");
    const id = Number((await c.query("SELECT id FROM users WHERE email = 'self-demote@example.com'")).rows[0].id);
    const r = await callAction(base, builtAction("setUserRoleAction"), [{ userId: id, role: "user" }], current);
    expect(r.body).toContain('"ok":true');
    expect(r.body).toContain('"endedSessions":1');
    expect(await me(current)).toBe("user");
    expect(await me(other)).toBe(401);
    // Now a user: the same session can no longer change roles.
    const again = await callAction(base, builtAction("setUserRoleAction"), [{ userId: id, role: "admin" }], current);
    expect(again.body).toBe('{"ok":false,"code":"FORBIDDEN"}');
  });
});
