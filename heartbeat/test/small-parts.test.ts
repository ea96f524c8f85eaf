import { DetectionClock } from "../src/detection-clock";
import { TokenBuckets } from "../src/token-buckets";
import { DeadlineHeap } from "../src/deadline-heap";

describe("DetectionClock", () => {
  it("is the watermark while the consumer is behind, and never ahead of the server when current", () => {
    let local = 10_000;
    const clock = new DetectionClock(() => local);
    clock.observe(5000, 12); // backlog: server time 5 s, 12 more pending
    expect(clock.isCurrent).toBe(false);
    expect(clock.nowMs()).toBe(5000);
    // Live: this host's clock is 4.9 s ahead of the server, delivery 100 ms.
    local = 20_000;
    clock.observe(15_000, 0);
    expect(clock.isCurrent).toBe(true);
    local = 21_000;
    expect(clock.nowMs()).toBe(16_000); // 21 s local − (20 s − 15 s) offset
    clock.setConnected(false);
    expect(clock.nowMs()).toBe(15_000); // frozen at the watermark while disconnected
  });
});

describe("TokenBuckets", () => {
  it("allows a burst, then the sustained rate, and says when to retry", () => {
    const r = new TokenBuckets(2, 3);
    expect([1, 2, 3, 4].map(() => r.allow("k", 0))).toEqual([true, true, true, false]);
    expect(r.retryAfterMs("k", 0)).toBe(500);
    expect(r.allow("k", 499)).toBe(false);
    expect(r.allow("k", 1000)).toBe(true);
    expect(r.allow("other", 0)).toBe(true);
  });
});

describe("DeadlineHeap", () => {
  it("pops entries in deadline order, only once due", () => {
    const h = new DeadlineHeap<number>();
    for (const at of [50, 10, 40, 30, 20, 60]) h.push({ atMs: at, key: String(at), data: at });
    const popped: number[] = [];
    for (let e = h.popDue(45); e; e = h.popDue(45)) popped.push(e.data);
    expect(popped).toEqual([10, 20, 30, 40]);
    expect(h.peek()?.atMs).toBe(50);
    expect(h.size).toBe(2);
  });
});
