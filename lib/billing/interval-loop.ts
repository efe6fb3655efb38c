/**
 * A background pass run again `intervalMs` after the previous one ended — never two at once, a
 * failed pass logged and the loop going on; the timer never keeps the process alive. stop() ends
 * the loop and waits for the pass in flight (the usage_logs reader, the users list's key refresher).
 */
export class IntervalLoop {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = false;

  constructor(
    private readonly pass: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly onError: (e: unknown) => void,
  ) {}

  /** The first pass after `firstDelayMs` (the interval unless told), then one per interval. */
  start(firstDelayMs = this.intervalMs): void {
    if (this.timer || this.stopped) return;
    const tick = () => {
      this.running = this.pass()
        .catch(this.onError)
        .finally(() => {
          this.running = null;
          if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs).unref();
        });
    };
    this.timer = setTimeout(tick, firstDelayMs).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
