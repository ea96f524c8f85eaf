import { formatJoinKey, isKeyId, newJoinKey, parseJoinKey } from "../src/secrets/join-key";

describe("join keys", () => {
  it("are 8 key-id and 28 secret Crockford characters (140 random bits), shown in groups of four", () => {
    const k = newJoinKey();
    expect(k.keyId).toMatch(/^[0-9A-HJKMNP-TV-Z]{8}$/);
    expect(k.secret).toMatch(/^[0-9A-HJKMNP-TV-Z]{28}$/);
    expect(formatJoinKey(k)).toMatch(/^([0-9A-HJKMNP-TV-Z]{4}-){8}[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(isKeyId(k.keyId)).toBe(true);
  });

  it("parse forgives case, dashes, spaces and O/0, I/L/1; it inverts format", () => {
    const k = { keyId: "AX324JR9", secret: "0123456789ABCDEFGHJKMNPQRSTV" };
    const shown = formatJoinKey(k);
    expect(parseJoinKey(shown)).toEqual(k);
    expect(parseJoinKey(shown.toLowerCase().replace(/-/g, " "))).toEqual(k);
    expect(parseJoinKey(shown.replace(/0/g, "O").replace(/1/, "I").replace(/1/, "l"))).toEqual(k);
  });

  it.each([
    ["too short", "AX32-4JR9"],
    ["too long", "A".repeat(37)],
    ["U is not Crockford", "U".repeat(36)],
    ["punctuation", "AX32_4JR9".padEnd(36, "0")],
    ["huge input", "0".repeat(10_000)],
  ])("refuses %s", (_why, input) => {
    expect(parseJoinKey(input)).toBeUndefined();
  });

  it("draws distinct keys", () => {
    const seen = new Set(Array.from({ length: 1000 }, () => formatJoinKey(newJoinKey())));
    expect(seen.size).toBe(1000);
  });
});
