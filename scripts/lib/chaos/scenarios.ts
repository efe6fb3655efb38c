import { resetUserWindow, saveUserLimits } from "@/lib/billing/admin-changes";
import { PG_TIMEOUTS } from "@/lib/billing/connections";
import { billingKeys } from "@/lib/billing/keys";
import { decodeQuotaEntry } from "@/lib/billing/quota-cache";
import type { BillingRuntime } from "@/lib/billing/runtime";
import type { Limits } from "@/lib/billing/vocabulary";

import { redisCommand } from "../faults";
import type { TrafficControl } from "../traffic";
import type { ChaosDb, ChaosServices, DbService } from "./services";

/**
 * The chaos scenarios: each one injects a real fault (scripts/lib/faults) or a hostile operation at
 * fixed points of a traffic run. A scenario only injects; the engine (run.ts) plays the traffic,
 * quiesces and checks the ledger. Every fault is undone in `ctx.undo` handlers, run by the engine
 * whatever happens.
 */
export type Mode = "direct" | "flusher";

export type ScenarioCtx = {
  rt: BillingRuntime;
  mode: Mode;
  db: DbService;
  services: ChaosServices;
  quick: boolean;
  /** traffic users (6 × 3 platforms) and platforms */
  users: number[];
  platforms: string[];
  /** the user × platform with the tight daily cap */
  tight: { userId: number; platform: string; daily: number };
  /** users created for this scenario only (Scenario.extraUsers), with large caps, never touched by the traffic */
  extra: number[];
  /** the traffic's length in seconds */
  duration: number;
  /** seconds into the traffic at which the main fault starts */
  faultAt: number;
  /** resolves at `t` seconds after the traffic started */
  at(t: number): Promise<void>;
  /** extra requests through the traffic engine (counted like its own) */
  ctl(): TrafficControl;
  /**
   * Flusher mode: record how much usage Redis holds that PostgreSQL does not, right before Redis is
   * made unreachable (the cap invariant allows exactly that lag; scripts/lib/traffic.ts readUnflushed).
   * No-op in direct mode, where PostgreSQL has every cost.
   */
  markUnflushed(): Promise<void>;
  /** register an undo step (run by the engine after the scenario, in reverse order, even on failure) */
  undo(fn: () => unknown): void;
  note(s: string): void;
  random: () => number;
};

export type Scenario = {
  name: string;
  title: string;
  /** a reason when the scenario does not apply to this mode × database */
  na?: (mode: Mode, db: ChaosDb) => string | null;
  /** flusher mode: which flusher(s) run during the traffic (default: one in-process) */
  flusher?: "child" | "child+inprocess";
  /** extra users (× the traffic platforms) created for the scenario */
  extraUsers?: (db: ChaosDb, quick: boolean) => number;
  run(ctx: ScenarioCtx): Promise<void>;
};

/** Fault lengths: the brief's in the full suite, shorter in --quick (where a derivation allows). */
const len = (ctx: ScenarioCtx, full: number, quick: number) => (ctx.quick ? quick : full);

const LARGE = 1_000_000;

/** The highest usage of a key in PostgreSQL and Redis (flusher mode: Redis runs ahead of the flush). */
async function currentUsage(
  rt: BillingRuntime,
  userId: number,
  platform: string,
): Promise<{ daily: number; weekly: number; monthly: number }> {
  const row = await rt.repo.getByUserPlatform(userId, platform);
  const e = rt.redis
    ? decodeQuotaEntry(await rt.redis.hgetall(billingKeys.userPlatformQuota(userId, platform)).catch(() => ({})))
    : null;
  const r = (a: number | undefined, b: number | undefined) => Math.max(a ?? 0, b && Number.isFinite(b) ? b : 0);
  return {
    daily: r(row?.dailyUsage, e?.dailyUsage),
    weekly: r(row?.weeklyUsage, e?.weeklyUsage),
    monthly: r(row?.monthlyUsage, e?.monthlyUsage),
  };
}

export const SCENARIOS: Scenario[] = [
  {
    name: "baseline",
    title: "no fault",
    async run() {},
  },
  {
    name: "admin-saves",
    title: "admin saves during traffic: caps raised/changed (never below usage), a platform removed and re-added",
    async run(ctx) {
      const every = len(ctx, 0.8, 0.5);
      const removed = new Set<number>();
      let n = 0;
      for (let t = ctx.faultAt; t < ctx.duration - 0.3; t += every, n++) {
        await ctx.at(t);
        const userId = ctx.users[n % ctx.users.length];
        const records: Array<{ platform: string; limits: Limits }> = [];
        for (const platform of ctx.platforms) {
          if (platform === "gemini" && userId !== ctx.tight.userId && !removed.has(userId) && n % 3 === 1) {
            removed.add(userId); // removed by this save, re-added by the next save of this user
            continue;
          }
          if (userId === ctx.tight.userId && platform === ctx.tight.platform) {
            // Set the tight cap $0.30 above what was used so far (never below current usage; it keeps biting).
            const u = await currentUsage(ctx.rt, userId, platform);
            records.push({
              platform,
              limits: { daily: Math.round((u.daily + 0.3) * 100) / 100, weekly: LARGE, monthly: LARGE },
            });
            continue;
          }
          records.push({ platform, limits: { daily: LARGE + n, weekly: LARGE * 2 - n, monthly: null } });
        }
        if (n % 4 === 0) records.push({ platform: "grok", limits: { daily: 5, weekly: null, monthly: null } });
        if (records.some((r) => r.platform === "gemini")) removed.delete(userId);
        await saveUserLimits(ctx.rt, userId, records).catch((e) => ctx.note(`save failed: ${String(e)}`));
      }
      ctx.note(`${n} saves`);
    },
  },
  {
    name: "admin-resets",
    title: "admin resets of the daily window during traffic (the monthly window, which (a) compares, is untouched)",
    async run(ctx) {
      const every = len(ctx, 0.7, 0.4);
      let n = 0;
      for (let t = ctx.faultAt; t < ctx.duration - 0.3; t += every, n++) {
        await ctx.at(t);
        const target =
          n % 2 === 0
            ? ctx.tight
            : {
                userId: ctx.users[Math.floor(ctx.random() * ctx.users.length)],
                platform: ctx.platforms[Math.floor(ctx.random() * ctx.platforms.length)],
              };
        await resetUserWindow(ctx.rt, target.userId, target.platform, "daily").catch((e) =>
          ctx.note(`reset failed: ${String(e)}`),
        );
      }
      ctx.note(`${n} resets`);
    },
  },
  {
    name: "cold-rebuilds",
    title: "bursts of concurrent checks + records on cold keys (rebuilds racing the recording)",
    extraUsers: (db, quick) => (db === "pglite" ? 8 : quick ? 12 : 30),
    async run(ctx) {
      const perKey = ctx.db.db === "pglite" ? 8 : 25;
      const bursts = Math.max(2, Math.floor((ctx.duration - ctx.faultAt) / 0.5));
      const perBurst = Math.max(1, Math.ceil(ctx.extra.length / bursts));
      let fired = 0;
      const all: Promise<void>[] = [];
      for (let b = 0; b * perBurst < ctx.extra.length; b++) {
        await ctx.at(ctx.faultAt + b * 0.5);
        for (const userId of ctx.extra.slice(b * perBurst, (b + 1) * perBurst)) {
          for (const platform of ctx.platforms) {
            for (let i = 0; i < perKey; i++) {
              all.push(ctx.ctl().request(userId, platform));
              fired++;
            }
          }
        }
      }
      await Promise.all(all);
      ctx.note(`${fired} burst requests on ${ctx.extra.length * ctx.platforms.length} cold keys`);
    },
  },
  {
    name: "key-deletions",
    title: "raw DEL of quota hashes under traffic (an eviction)",
    na: (mode) =>
      mode === "flusher"
        ? "flusher mode requires a non-evicting Redis (docs): a raw DEL destroys unflushed usage by design"
        : null,
    async run(ctx) {
      const every = len(ctx, 0.6, 0.4);
      let n = 0;
      for (let t = ctx.faultAt; t < ctx.duration - 0.2; t += every) {
        await ctx.at(t);
        const keys = [billingKeys.userPlatformQuota(ctx.tight.userId, ctx.tight.platform)];
        for (const u of ctx.users)
          for (const p of ctx.platforms) if (ctx.random() < 0.4) keys.push(billingKeys.userPlatformQuota(u, p));
        await redisCommand(ctx.services.redis.port, ["DEL", ...keys], 2000).catch((e) =>
          ctx.note(`DEL failed: ${String(e)}`),
        );
        n += keys.length;
      }
      ctx.note(`${n} DELs`);
    },
  },
  {
    name: "redis-stop",
    title: "Redis SIGSTOP 3 s, then SIGCONT",
    async run(ctx) {
      const r = ctx.services.redis;
      await ctx.at(ctx.faultAt);
      await ctx.markUnflushed();
      r.pause();
      ctx.undo(() => r.resume());
      // 3 s in --quick too: a request that meets the pause waits out its check's and its write guard's
      // reads (1 s command timeout each) before its increment is sent, so a shorter pause would end
      // before any increment failed.
      await ctx.at(ctx.faultAt + 3);
      r.resume();
    },
  },
  {
    name: "redis-kill",
    title: "Redis SIGKILL, restarted 2 s later from its AOF",
    async run(ctx) {
      const r = ctx.services.redis;
      await ctx.at(ctx.faultAt);
      await ctx.markUnflushed();
      await r.kill();
      ctx.undo(() => (r.running ? undefined : r.restart()));
      await ctx.at(ctx.faultAt + len(ctx, 2, 1));
      await r.restart();
    },
  },
  {
    name: "pg-refuse",
    title: "PostgreSQL refusing connections 3 s (proxy refuse + open connections cut)",
    async run(ctx) {
      const p = ctx.db.proxy;
      await ctx.at(ctx.faultAt);
      await p.refuse();
      ctx.undo(() => p.pass());
      p.cut(); // open connections would keep working through a refuse: reset them so the pool must reconnect
      await ctx.at(ctx.faultAt + len(ctx, 3, 1.5));
      await p.pass();
    },
  },
  {
    name: "pg-hang",
    title: "PostgreSQL hung (proxy pause; statements delivered late, after their clients gave up)",
    async run(ctx) {
      // The brief's 5 s would end before any client gave up (pg query_timeout is 6 s): the hang lasts
      // query_timeout + 1 s so the buffered statements reach PostgreSQL AFTER their clients timed out.
      const hang = PG_TIMEOUTS.query_timeout / 1000 + 1;
      const p = ctx.db.proxy;
      await ctx.at(ctx.faultAt);
      await p.pause();
      ctx.undo(() => p.pass());
      await ctx.at(ctx.faultAt + hang);
      const buffered = p.stats().bufferedUp;
      await p.pass();
      ctx.note(`hung ${hang} s, ${buffered} bytes delivered late`);
    },
  },
  {
    name: "pg-cut",
    title: "PostgreSQL connections cut (RST), 4 times",
    async run(ctx) {
      const every = len(ctx, 1, 0.4);
      for (let i = 0; i < 4; i++) {
        await ctx.at(ctx.faultAt + i * every);
        ctx.db.proxy.cut();
      }
    },
  },
  {
    name: "pg-restart",
    title: "PostgreSQL server restart (pg_ctl restart -m immediate: crash + WAL recovery)",
    na: (_mode, db) =>
      db === "pglite"
        ? "PGlite is an embedded single-process database with no crash-recovery restart (its process pause is pg-pause)"
        : null,
    async run(ctx) {
      await ctx.at(ctx.faultAt);
      const t0 = Date.now();
      await ctx.db.restart!();
      ctx.note(`restart took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    },
  },
  {
    name: "pg-pause",
    title: "PostgreSQL server paused (SIGSTOP of every server process) 3 s",
    async run(ctx) {
      await ctx.at(ctx.faultAt);
      ctx.db.pause();
      ctx.undo(() => ctx.db.resume());
      await ctx.at(ctx.faultAt + len(ctx, 3, 2));
      ctx.db.resume();
    },
  },
  {
    name: "flusher-kill",
    title: "the flusher worker (scripts/flusher.ts) SIGKILLed mid-run, restarted 2 s later",
    na: (mode) => (mode === "direct" ? "direct mode runs no flusher" : null),
    flusher: "child",
    async run() {
      // Driven by the engine (it owns the child process): see run.ts, flusherKill.
    },
  },
  {
    name: "two-flushers",
    title: "two flushers at once (the worker process and one in the gateway process)",
    na: (mode) => (mode === "direct" ? "direct mode runs no flusher" : null),
    flusher: "child+inprocess",
    async run() {},
  },
  {
    name: "malformed",
    title: 'malformed bytes written into hashes during traffic (weekly_usage "", daily_limit "1,0", version "1e3", …)',
    async run(ctx) {
      const writes: Array<[string, string]> = [
        ["weekly_usage", ""],
        ["daily_limit", "1,0"],
        ["schema_version", "1.0"],
        ["version", "1e3"],
        ["monthly_limit", "-"],
      ];
      // Direct mode: PostgreSQL holds every cost, so even a garbled usage field loses nothing. Flusher
      // mode: the garbage REPLACES that window's only copy of its unflushed usage — the repair can only
      // restore PostgreSQL's (flushed) value, a loss by design, like a raw DEL (see key-deletions) — so
      // only the fields whose bytes carry no unflushed monthly usage are garbled there.
      if (ctx.mode === "direct") writes.push(["monthly_usage", "x"]);
      const every = len(ctx, 1, 0.4);
      let n = 0;
      for (let t = ctx.faultAt; t < ctx.duration - 0.5; t += every, n++) {
        await ctx.at(t);
        const [field, value] = writes[n % writes.length];
        // Never the tight key's limit: "1,0" reads as unlimited (as Go reads it) and would lift its cap.
        const candidates = ctx.users
          .flatMap((u) => ctx.platforms.map((p) => ({ u, p })))
          .filter((k) => !(k.u === ctx.tight.userId && k.p === ctx.tight.platform));
        const k = candidates[Math.floor(ctx.random() * candidates.length)];
        await redisCommand(
          ctx.services.redis.port,
          ["HSET", billingKeys.userPlatformQuota(k.u, k.p), field, value],
          2000,
        ).catch(() => {});
        // The garbage is only found when a request reads the hash: make sure one does (on PGlite's low
        // rate a key can otherwise go untouched until the end and stay garbled, unseen by anyone).
        void ctx.ctl().request(k.u, k.p);
      }
      ctx.note(`${n} malformed writes`);
    },
  },
];
