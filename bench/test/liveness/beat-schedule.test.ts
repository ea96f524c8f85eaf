import { BeatSchedule } from "../../src/liveness/beat-schedule";

function takeAll(s: BeatSchedule, now: number): [number, number][] {
  const out: [number, number][] = [];
  s.take(now, (node, due) => out.push([node, due]));
  return out;
}

describe("BeatSchedule", () => {
  it("spreads the nodes evenly over one interval, in cyclic order", () => {
    const s = new BeatSchedule(4, 1000, 10_000);
    expect(takeAll(s, 10_999)).toEqual([
      [0, 10_000],
      [1, 10_250],
      [2, 10_500],
      [3, 10_750],
    ]);
    expect(takeAll(s, 11_499)).toEqual([
      [0, 11_000],
      [1, 11_250],
    ]);
    expect(s.nextDueMs).toBe(11_500);
  });

  it("gives a late caller every beat it missed, each with its own slot", () => {
    const s = new BeatSchedule(3, 900, 0);
    const beats = takeAll(s, 1800);
    expect(beats.map(([n]) => n)).toEqual([0, 1, 2, 0, 1, 2, 0]);
    expect(beats.map(([, due]) => due)).toEqual([0, 300, 600, 900, 1200, 1500, 1800]);
    expect(takeAll(s, 1800)).toEqual([]);
  });

  it("beats every node exactly once per interval over many rounds", () => {
    const s = new BeatSchedule(7, 1000, 0);
    const count = new Map<number, number>();
    for (let now = 0; now < 10_000; now += 13) {
      s.take(now, (node) => count.set(node, (count.get(node) ?? 0) + 1));
    }
    expect([...count.values()]).toEqual(Array(7).fill(10));
  });

  it("refuses an empty fleet or a non-positive interval", () => {
    expect(() => new BeatSchedule(0, 1000, 0)).toThrow(RangeError);
    expect(() => new BeatSchedule(5, 0, 0)).toThrow(RangeError);
  });
});
