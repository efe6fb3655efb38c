import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

/**
 * Debian's Chromium, driven by playwright-core (no downloaded browser). The networking flags keep
 * it from flooding this offline machine with refused connections.
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  if (!fs.existsSync(executablePath))
    throw new Error(`Chromium not found at ${executablePath} (apt-get install chromium)`);
  return chromium.launch({
    executablePath,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

/** Where screenshots of the e2e run are kept (a CI artifact folder, ignored by git). */
export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = path.resolve(process.env.TEST_ARTIFACTS_DIR ?? "test-results");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

export const tmpDir = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

/** Fill and submit the sign-in form. */
export async function signIn(page: Page, email: string, password: string) {
  await page.locator('input[name="email"]').fill(email);
  await page.locator('input[name="password"]').fill(password);
  await page.locator('form button[type="submit"]').click();
}

/** The admin menu as an admin sees it (components/shell/app-header.tsx), in each language. */
export const ADMIN_MENU = {
  en: ["Overview", "Users", "Bulk operations", "Settings", "Cache health", "Audit log", "Import / export"],
  zh: ["用量概览", "用户管理", "批量操作", "系统设置", "缓存健康", "审计日志", "导入 / 导出"],
} as const;
