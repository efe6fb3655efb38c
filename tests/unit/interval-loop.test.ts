import { describe, expect, it } from "vitest";

import { IntervalLoop } from "@/lib/billing/interval-loop";

/** Resolves once `n()` reaches `count` (checked after every pass). */
function passes() {
  let n = 0;
  const waiters: Array<[number, () => void]> = [];
  return {
    count: () => n,
    bump() {
      n++;
      for (const [c, done] of waiters) if (n >= c) done();
    },
    reach: (c: number) => new Promise<void>((done) => (n >= c ? done() : waiters.push([c, done]))),
  };
}

describe("IntervalLoop", () => {
  it("runs one pass at a time, keeps going after a failed pass, and stop() waits for the pass in flight", async () => {
    const seen = passes();
    const errors: unknown[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    let finished = 0;
    const loop = new IntervalLoop(
      async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        seen.bump();
        await new Promise((r) => setTimeout(r, 2));
        inFlight--;
        finished++;
        if (seen.count() === 2) throw new Error("pass 2 failed");
      },
      1,
      (e) => errors.push(e),
    );
    loop.start(0);
    loop.start(0); // a second start is a no-op: still one pass at a time
    await seen.reach(4);
    await loop.stop();
    const after = seen.count();
    expect(finished).toBe(after); // the pass in flight ended before stop() returned
    expect(maxInFlight).toBe(1);
    expect(errors.map(String)).toEqual(["Error: pass 2 failed"]);
    await new Promise((r) => setTimeout(r, 20));
    expect(seen.count()).toBe(after); // no pass after stop()
    loop.start(0); // nor after a start once stopped
    await new Promise((r) => setTimeout(r, 20));
    expect(seen.count()).toBe(after);
  });
});
