// Tests of the stall watch (src/stall.ts) and the reconnect order after a
// stall (src/cluster.ts), on a fake clock.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { stallFailoverOrder } from "../src/cluster";
import { defaultStallTimeoutMs, minStallTimeoutMs, type StallClock, StallWatch, stallWindowMs } from "../src/stall";

/** FakeClock runs timers when the test advances its time. */
class FakeClock implements StallClock {
  t = 0;
  private next = 1;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  /** advance moves time by ms, running due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!due || e[1].at < due[1].at)) due = e;
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
    }
    this.t = end;
  }
}

function watch(): { clock: FakeClock; w: StallWatch; stalls: number[] } {
  const clock = new FakeClock();
  const stalls: number[] = [];
  const w = new StallWatch(() => stalls.push(clock.now()), clock);
  return { clock, w, stalls };
}

describe("stallWindowMs", () => {
  const cases: [number | undefined, number, number][] = [
    [undefined, 30, defaultStallTimeoutMs],
    [2000, 30, 2000],
    [0, 30, 0],
    [-5, 30, 0],
    [500, 30, minStallTimeoutMs],
    [2000, 1, 8000],
    [2000, 2, 4000],
    [2000, 0, 2000],
  ];
  for (const [timeout, rate, want] of cases) {
    test(`timeout ${timeout} at ${rate} Hz`, () => assert.equal(stallWindowMs(timeout, rate), want));
  }
  test("the default is 2 s", () => assert.equal(defaultStallTimeoutMs, 2000));
});

describe("StallWatch", () => {
  test("fires once, the window after the Welcome, when no snapshot comes", () => {
    const { clock, w, stalls } = watch();
    w.arm(2000);
    clock.advance(1999);
    assert.deepEqual(stalls, []);
    clock.advance(1);
    assert.deepEqual(stalls, [2000]);
    clock.advance(10_000);
    assert.deepEqual(stalls, [2000]);
    assert.equal(w.active, false);
  });
  test("never fires while snapshots flow, with one timer at a time", () => {
    const { clock, w, stalls } = watch();
    w.arm(2000);
    for (let i = 0; i < 30 * 20; i++) {
      clock.advance(33);
      w.snapshot();
      assert.ok(clock.pending <= 1);
    }
    assert.deepEqual(stalls, []);
  });
  test("fires the window after the last snapshot, not before", () => {
    const { clock, w, stalls } = watch();
    w.arm(2000);
    clock.advance(1500);
    w.snapshot(); // at 1500
    clock.advance(1999);
    assert.deepEqual(stalls, []);
    clock.advance(1);
    assert.deepEqual(stalls, [3500]);
  });
  test("stop and re-arm", () => {
    const { clock, w, stalls } = watch();
    w.arm(2000);
    clock.advance(1000);
    w.stop();
    clock.advance(5000);
    assert.deepEqual(stalls, []);
    assert.equal(clock.pending, 0);
    w.arm(1000);
    clock.advance(999);
    w.arm(1000); // a new Welcome: the window starts again
    clock.advance(999);
    assert.deepEqual(stalls, []);
    clock.advance(1);
    assert.deepEqual(stalls, [7999]); // armed again at 6999
  });
  test("a window of 0 is no watch", () => {
    const { clock, w, stalls } = watch();
    w.arm(0);
    clock.advance(60_000);
    assert.deepEqual(stalls, []);
    assert.equal(w.active, false);
  });
});

describe("stallFailoverOrder", () => {
  const a = "ws://127.0.0.1:7001/ws";
  const b = "ws://127.0.0.1:7002/ws";
  const c = "ws://127.0.0.1:7003/ws";
  test("the stalled node last", () => {
    assert.deepEqual(stallFailoverOrder(b, [a, b, c], a), [c, a, b]);
  });
  test("stalled on the page's node", () => {
    assert.deepEqual(stallFailoverOrder(a, [a, b, c], a), [b, c, a]);
  });
  test("no list: home first, then the stalled node", () => {
    assert.deepEqual(stallFailoverOrder(b, [], a), [a, b]);
  });
  test("only one node", () => {
    assert.deepEqual(stallFailoverOrder(a, [a], a), [a]);
  });
});
