// The stall watch: a seated connection on which no snapshot arrives for the
// stall window is dropped and resumed as after a connection loss.
//
// A node stopped with SIGSTOP (or a hung VM) keeps its TCP connections open
// and sends nothing; the browser's WebSocket notices nothing for minutes.
// The node sends every seated player a snapshot each tick, changed or not,
// so silence for a couple of seconds means the node or its room stopped.
// Pings and pongs do not count: a live node whose room is stuck still
// answers them.
//
// Pure logic over an injected clock, so that test/stall.test.ts can drive it
// without a browser; ArenaClient (client.ts) uses it on the page's thread.

/** The default stall timeout (ClientOptions.stallTimeoutMs): 60 ticks at 30 Hz. */
export const defaultStallTimeoutMs = 2000;

/**
 * The smallest stall timeout other than 0 (off). During a planned move the
 * old owner freezes the room, and a page that stalls there is seated again
 * by it with a new resume token; the new owner accepts that token only if
 * it was issued in a later second than the one in the hand-over's
 * checkpoint, which a stall of at least a second guarantees.
 */
export const minStallTimeoutMs = 1000;

/** A slow game must miss this many ticks in a row before the page drops it. */
export const stallTickPeriods = 8;

/**
 * stallWindowMs is how long a seated connection may go without a snapshot:
 * timeoutMs (undefined: the default; below the floor: the floor), and at
 * least stallTickPeriods ticks at tickRate. 0 (or less) turns the watch off.
 */
export function stallWindowMs(timeoutMs: number | undefined, tickRate: number): number {
  const t = timeoutMs ?? defaultStallTimeoutMs;
  if (!(t > 0)) return 0;
  const w = Math.max(t, minStallTimeoutMs);
  return tickRate > 0 ? Math.max(w, (stallTickPeriods * 1000) / tickRate) : w;
}

/** The clock and timers StallWatch uses: the page's, or a test's fake. */
export interface StallClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The page's clock: performance.now and the global timers. */
export const pageClock: StallClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * StallWatch calls onStall once when windowMs pass without snapshot() after
 * arm(). A snapshot only records the time: one timer runs per window, and
 * when it fires early (a snapshot came meanwhile) it is set again for the
 * rest of the window, so the watch costs nothing per snapshot and fires
 * exactly windowMs after the last one.
 */
export class StallWatch {
  private timer: unknown = undefined;
  private last = 0;
  private windowMs = 0;

  constructor(
    private readonly onStall: () => void,
    private readonly clock: StallClock = pageClock,
  ) {}

  /** arm starts watching (again) from now; windowMs <= 0 stops the watch. */
  arm(windowMs: number): void {
    this.stop();
    if (!(windowMs > 0)) return;
    this.windowMs = windowMs;
    this.last = this.clock.now();
    this.schedule(windowMs);
  }

  /** snapshot records that a snapshot arrived now. */
  snapshot(): void {
    this.last = this.clock.now();
  }

  /** stop ends the watch; onStall is not called. */
  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.windowMs = 0;
  }

  /** active reports whether the watch runs. */
  get active(): boolean {
    return this.timer !== undefined;
  }

  private schedule(ms: number): void {
    this.timer = this.clock.setTimeout(() => this.check(), ms);
  }

  private check(): void {
    this.timer = undefined;
    if (this.windowMs <= 0) return;
    const idle = this.clock.now() - this.last;
    if (idle < this.windowMs) {
      this.schedule(this.windowMs - idle);
      return;
    }
    this.windowMs = 0;
    this.onStall();
  }
}
