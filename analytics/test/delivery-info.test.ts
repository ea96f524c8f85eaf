import { deliveryInfo } from "../src/ingest/delivery-info";

describe("deliveryInfo", () => {
  test("reads the old and the new ack subject forms", () => {
    // $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ns>.<pending>
    expect(
      deliveryInfo("$JS.ACK.KON_HB.analytics-hb.1.12345.12000.1763700000123456789.42"),
    ).toEqual({
      deliveryCount: 1,
      streamSeq: 12345,
      timeMs: 1763700000123,
    });
    // $JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ns>.<pending>.<token>
    expect(
      deliveryInfo(
        "$JS.ACK._.AHASH.KON_HB.analytics-hb.3.9007199254740991.7.1763700000999999999.0.x1",
      ),
    ).toEqual({ deliveryCount: 3, streamSeq: 2 ** 53 - 1, timeMs: 1763700000999 });
  });

  test("anything else is not a delivery", () => {
    for (const s of [
      "",
      "_INBOX.abc",
      "$JS.ACK.S.C.1.2.3.4", // too few tokens
      "$JS.ACK.S.C.x.2.3.1763700000123456789.0",
      "$JS.ACK.S.C.1..3.1763700000123456789.0",
      "$JS.NAK.S.C.1.2.3.1763700000123456789.0",
      "$JS.ACK.a.b.S.C.1.2.3.4", // 10 tokens: neither form
    ]) {
      expect(deliveryInfo(s)).toBeUndefined();
    }
  });

  test("agrees with nats.js' own parsing on a real-looking subject", () => {
    const ns = 1763700000123456789n;
    const info = deliveryInfo(`$JS.ACK.S.C.2.77.5.${ns}.0`);
    expect(info?.timeMs).toBe(Number(ns / 1_000_000n));
    expect(info?.deliveryCount).toBe(2);
  });
});
