/**
 * The app's transaction helper: BEGIN … COMMIT, or ROLLBACK on `return rollback(result)` or a throw,
 * on a client of its own (lib/billing/pg.ts has the implementation, which the library shares: it
 * cannot import the app). Use it for every multi-statement write; never hand-roll BEGIN/COMMIT.
 */
export { rollback, withTransaction, type Rollback } from "@/lib/billing/pg";
