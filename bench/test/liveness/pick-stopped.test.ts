import { pickStopped } from "../../src/liveness/pick-stopped";

describe("pickStopped", () => {
  it("picks distinct indexes in range, the same for the same seed", () => {
    const a = pickStopped(10_000, 100, 1);
    expect(new Set(a).size).toBe(100);
    expect(a.every((i) => Number.isInteger(i) && i >= 0 && i < 10_000)).toBe(true);
    expect(pickStopped(10_000, 100, 1)).toEqual(a);
    expect(pickStopped(10_000, 100, 2)).not.toEqual(a);
  });

  it("can pick all or none, and refuses more than there are", () => {
    expect(pickStopped(5, 5, 9)).toEqual([0, 1, 2, 3, 4]);
    expect(pickStopped(5, 0, 9)).toEqual([]);
    expect(() => pickStopped(5, 6, 9)).toThrow(RangeError);
  });
});
