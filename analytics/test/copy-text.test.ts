import { copyField, copyLine } from "../src/pg/copy-text";
import { mergeRanges } from "../src/maintenance/rollup-refresher";
import { isTransientPgError } from "../src/pg/pg-errors";

describe("COPY text encoding", () => {
  test("escapes the characters COPY gives meaning to, and NUL", () => {
    expect(copyField("a\tb\nc\\d\re")).toBe("a\\tb\\nc\\\\d\\re");
    expect(copyField("x\u0000y")).toBe("x\uFFFDy");
    expect(copyField(null)).toBe("\\N");
    expect(copyField(NaN)).toBe("\\N");
    expect(copyField(true)).toBe("t");
    expect(copyLine(["a", 1, false, undefined])).toBe("a\t1\tf\t\\N\n");
  });
});

describe("rollup ranges", () => {
  test("overlapping and touching ranges merge", () => {
    const d = (m: number) => new Date(m * 60_000);
    expect(
      mergeRanges([
        { from: d(5), to: d(7) },
        { from: d(0), to: d(2) },
        { from: d(2), to: d(3) },
        { from: d(6), to: d(9) },
      ]),
    ).toEqual([
      { from: d(0), to: d(3) },
      { from: d(5), to: d(9) },
    ]);
  });
});

describe("PostgreSQL error classification", () => {
  test("connection loss and shutdown are transient; bad data is not", () => {
    expect(
      isTransientPgError(
        Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
      ),
    ).toBe(true);
    expect(
      isTransientPgError(Object.assign(new Error("terminating connection"), { code: "57P01" })),
    ).toBe(true);
    expect(isTransientPgError(new Error("Connection terminated unexpectedly"))).toBe(true);
    expect(
      isTransientPgError(Object.assign(new Error("invalid input syntax"), { code: "22P02" })),
    ).toBe(false);
  });
});
