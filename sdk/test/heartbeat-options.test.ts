import { KonError } from "../src";
import { MAX_META_BYTES, MAX_META_ENTRIES } from "../src/heartbeat/heartbeat-options";
import { parseHeartbeatOptions } from "../src/heartbeat/heartbeat-options";
import type { HeartbeatOptions } from "../src";

const codeOf = (opts: unknown): string | undefined => {
  try {
    parseHeartbeatOptions(opts as HeartbeatOptions);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(KonError);
    return (err as KonError).code;
  }
};

describe("heartbeat options", () => {
  it("applies the defaults", () => {
    expect(parseHeartbeatOptions()).toEqual({
      intervalMs: 1000,
      misses: 3,
      meta: {},
      serviceVersion: "",
      leaveTimeoutMs: 2000,
    });
    expect(parseHeartbeatOptions({ intervalMs: 100, misses: 1 })).toMatchObject({
      intervalMs: 100,
      misses: 1,
    });
  });

  it("names the bad field", () => {
    expect(() => parseHeartbeatOptions({ intervalMs: 99 })).toThrow(
      /invalid heartbeat option intervalMs: .*100/,
    );
    expect(() => parseHeartbeatOptions({ intervalMs: 1000.5 })).toThrow(/option intervalMs/);
    expect(() => parseHeartbeatOptions({ misses: 0 })).toThrow(/option misses/);
    expect(() => parseHeartbeatOptions({ misses: 101 })).toThrow(/option misses/);
    expect(() =>
      parseHeartbeatOptions({ meta: { region: 5 } } as unknown as HeartbeatOptions),
    ).toThrow(/option meta\.region/);
    expect(() => parseHeartbeatOptions({ meta: { "bad key": "x" } })).toThrow(
      /option meta.*label names are 1-63/,
    );
    expect(codeOf({ misses: "3" })).toBe("INVALID_OPTIONS");
  });

  it("accepts meta up to the limits and refuses more with HEARTBEAT_META_TOO_LARGE", () => {
    const entries = (n: number): Record<string, string> =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, "v"]));
    expect(parseHeartbeatOptions({ meta: entries(MAX_META_ENTRIES) }).meta).toEqual(
      entries(MAX_META_ENTRIES),
    );
    expect(codeOf({ meta: entries(MAX_META_ENTRIES + 1) })).toBe("HEARTBEAT_META_TOO_LARGE");
    expect(() => parseHeartbeatOptions({ meta: entries(33) })).toThrow(
      /heartbeat meta has 33 entries; the limit is 32/,
    );

    // Bytes are UTF-8: "é" is two. key "note" (4) + value fills the rest exactly.
    const fits = { note: "é".repeat((MAX_META_BYTES - 4) / 2) };
    expect(parseHeartbeatOptions({ meta: fits }).meta).toEqual(fits);
    const over = { note: `${fits.note}x` };
    expect(codeOf({ meta: over })).toBe("HEARTBEAT_META_TOO_LARGE");
    expect(() => parseHeartbeatOptions({ meta: over })).toThrow(
      /heartbeat meta is 4097 bytes .*the limit is 4096/,
    );
  });
});
