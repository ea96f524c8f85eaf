import { z } from "zod";
import {
  REPEAT_FLAG,
  formatRepeats,
  parseBenchFlags,
  repeatCase,
  repeatShape,
  summarizeRepeats,
} from "../src/bench-flags";

const parse = (args: string[]) =>
  parseBenchFlags(args, { strings: [REPEAT_FLAG], booleans: [] }, z.object(repeatShape), "usage");

describe("--repeat", () => {
  test("defaults to one run; takes 1 to 100; a bad value is refused by name", () => {
    expect(parse([]).repeat).toBe(1);
    expect(parse(["--repeat", "5"]).repeat).toBe(5);
    expect(() => parse(["--repeat", "0"])).toThrow(/--repeat/);
    expect(() => parse(["--repeat", "2.5"])).toThrow(/--repeat/);
    expect(() => parse(["--repeat", "101"])).toThrow(/--repeat/);
  });

  test("runs a case N times in sequence, never two at once", async () => {
    let running = 0;
    let most = 0;
    const seen: number[] = [];
    const out = await repeatCase(
      4,
      async (i) => {
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return i * 10;
      },
      (r) => seen.push(r),
    );
    expect(out).toEqual([0, 10, 20, 30]);
    expect(seen).toEqual(out);
    expect(most).toBe(1);
  });

  test("worst and median are observed runs; an even count takes the worse middle", () => {
    expect(summarizeRepeats([120, 90, 250, 100, 110])).toEqual({
      runs: 5,
      worst: 250,
      median: 110,
      all: [120, 90, 250, 100, 110],
    });
    expect(summarizeRepeats([3, 1, 2, 4])).toMatchObject({ worst: 4, median: 3 });
    // throughput: lower is worse
    expect(summarizeRepeats([0.6, 0.4, 0.55], "lower")).toMatchObject({ worst: 0.4, median: 0.55 });
    // a run that measured nothing is the worst, whichever way
    expect(summarizeRepeats([1, NaN, 2]).worst).toBeNaN();
    expect(summarizeRepeats([1, NaN, 2], "lower").worst).toBeNaN();
    expect(summarizeRepeats([]).runs).toBe(0);
  });

  test("formats one run as the figure, several with worst, median and every run", () => {
    expect(formatRepeats(summarizeRepeats([4.24]), "ms", 2)).toBe("4.24 ms");
    expect(formatRepeats(summarizeRepeats([3, 5, 4]), "ms")).toBe(
      "worst 5.0 / median 4.0 ms over 3 runs [3.0, 5.0, 4.0]",
    );
  });
});
