import type pg from "pg";

import { rawDb } from "./db";

/** Create `n` users for billing tests and return their ids (deleted by deleteUsers). */
export async function createUsers(c: pg.Client, prefix: string, n: number): Promise<number[]> {
  const { rows } = await c.query(
    `INSERT INTO users (email, password_hash)
     SELECT $1 || '-' || g || '-' || floor(random() * 1e9)::bigint || '@billing.test', 'x' FROM generate_series(1, $2) g RETURNING id`,
    [prefix, n],
  );
  return rows.map((r) => Number(r.id));
}

export async function deleteUsers(c: pg.Client, ids: number[]) {
  if (ids.length) await c.query("DELETE FROM users WHERE id = ANY($1::bigint[])", [ids]);
}

/** The stored quota row as exact text, for assertions independent of the code under test. */
export async function rowText(c: pg.Client, userId: number, platform: string) {
  const { rows } = await c.query(
    `SELECT daily_limit_usd::text AS dl, weekly_limit_usd::text AS wl, monthly_limit_usd::text AS ml,
            daily_usage_usd::text AS du, weekly_usage_usd::text AS wu, monthly_usage_usd::text AS mu,
            daily_window_start AS ds, weekly_window_start AS ws, monthly_window_start AS ms, deleted_at
     FROM user_platform_quotas WHERE user_id = $1 AND platform = $2 AND deleted_at IS NULL`,
    [userId, platform],
  );
  return rows[0] ?? null;
}

export { rawDb };
