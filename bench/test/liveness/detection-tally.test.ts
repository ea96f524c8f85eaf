import { DetectionTally } from "../../src/liveness/detection-tally";

describe("DetectionTally", () => {
  it("times each stopped node's first down against its deadline", () => {
    const t = new DetectionTally(0);
    for (const n of ["a", "b", "c"]) t.stop(n, 1000);
    t.setDeadline("a", 4000);
    t.setDeadline("b", 4100);
    t.setDeadline("c", 4200);
    t.down("a", 4150);
    t.down("b", 4050); // before its deadline: early, negative delay
    t.down("c", 4300);
    const s = t.summary(10_000);
    expect(s.stopped).toBe(3);
    expect(s.withDeadline).toBe(3);
    expect(s.delay.n).toBe(3);
    expect(s.delay.min).toBe(-50);
    expect(s.delay.p50).toBe(100);
    expect(s.delay.max).toBe(150);
    expect(s.early).toBe(1);
    expect(s.missed).toBe(0);
    expect(s.falsePositives).toBe(0);
  });

  it("counts a down after the miss window as missed and late, and no down as missed", () => {
    const t = new DetectionTally(0);
    t.stop("late", 0);
    t.stop("never", 0);
    t.setDeadline("late", 3000);
    t.setDeadline("never", 3000);
    t.down("late", 3000 + 10_001);
    const s = t.summary(10_000);
    expect(s.missed).toBe(2);
    expect(s.late).toBe(1);
    expect(s.delay.n).toBe(0);
    expect(t.pending()).toBe(1);
  });

  it("counts downs of beating nodes as false positives, repeats as duplicates", () => {
    const t = new DetectionTally(100);
    t.stop("s", 5000);
    t.setDeadline("s", 8000);
    t.down("x", 600); // never stopped
    t.down("s", 4000); // before its stop
    t.down("s", 8100);
    t.down("s", 8200);
    const s = t.summary(10_000);
    expect(s.falsePositives).toBe(2);
    expect(s.falsePositiveSamples).toEqual(["x@500ms", "s@3900ms"]);
    expect(s.duplicates).toBe(1);
    expect(s.delay.n).toBe(1);
  });

  it("leaves nodes without a deadline out of the delays and notes mismatched refs", () => {
    const t = new DetectionTally(0);
    t.stop("a", 0);
    t.stop("b", 0);
    t.setDeadline("a", 3000, "41");
    t.down("a", 3100, "40");
    t.down("b", 3100);
    const s = t.summary(10_000);
    expect(s.withDeadline).toBe(1);
    expect(s.delay.n).toBe(1);
    expect(s.refMismatches).toBe(1);
    expect(s.missed).toBe(0);
    expect(t.deadlines()).toEqual([3000]);
  });
});
