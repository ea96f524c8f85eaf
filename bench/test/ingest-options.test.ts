import { KonError } from "@konorkestra/sdk";
import { parseIngestOptions } from "../src/ingest/ingest-options";
import { percentiles } from "../src/ingest/percentiles";

describe("bench:ingest flags", () => {
  test("defaults, and the drain backlog follows a smaller --rows", () => {
    expect(parseIngestOptions([])).toMatchObject({
      rows: 1_000_000,
      nodes: 10_000,
      drainRows: 500_000,
      steadyRate: 10_000,
      synchronousCommit: "on",
      skipCeiling: false,
    });
    expect(parseIngestOptions(["--rows", "20000"]).drainRows).toBe(20_000);
    expect(parseIngestOptions([]).analytics).toBe("one");
    expect(parseIngestOptions(["--analytics", "split"]).analytics).toBe("split");
    expect(() => parseIngestOptions(["--analytics", "three"])).toThrow(/--analytics/);
    expect(
      parseIngestOptions([
        "--rows",
        "20000",
        "--drain-rows",
        "5000",
        "--synchronous-commit",
        "off",
      ]),
    ).toMatchObject({ drainRows: 5000, synchronousCommit: "off" });
  });

  test("a bad flag is refused by name", () => {
    expect(() => parseIngestOptions(["--rows", "ten"])).toThrow(/--rows/);
    expect(() => parseIngestOptions(["--synchronous-commit", "maybe"])).toThrow(
      /--synchronous-commit/,
    );
    expect(() => parseIngestOptions(["--nope"])).toThrow(KonError);
  });
});

describe("percentiles", () => {
  test("nearest rank: every figure is an observed sample", () => {
    const samples = Array.from({ length: 200 }, (_, i) => 200 - i); // 200 … 1, unsorted
    expect(percentiles(samples)).toEqual({ n: 200, p50: 100, p99: 198, max: 200 });
    expect(percentiles([7])).toEqual({ n: 1, p50: 7, p99: 7, max: 7 });
    expect(percentiles([]).n).toBe(0);
  });
});
