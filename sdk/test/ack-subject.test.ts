import { parseAckSubject, parseAckSubjectBytes } from "../src/internal";

describe("parseAckSubject", () => {
  it("reads sequences, delivery count, time and pending from the old reply subject form", () => {
    expect(parseAckSubject("$JS.ACK.KV_cfg_g.abc.1.7.5.1795290191778980147.0")).toEqual({
      streamSeq: 7,
      consumerSeq: 5,
      deliveryCount: 1,
      timeMs: 1795290191778,
      pending: 0,
    });
    expect(
      parseAckSubject("$JS.ACK.KON_HB.analytics-hb.3.12345.12000.1763700000123456789.42"),
    ).toEqual({
      streamSeq: 12345,
      consumerSeq: 12000,
      deliveryCount: 3,
      timeMs: 1763700000123,
      pending: 42,
    });
  });

  it("reads the newer form with domain and account hash, with or without the trailing token", () => {
    const expected = {
      streamSeq: 9,
      consumerSeq: 3,
      deliveryCount: 1,
      timeMs: 1795290191778,
      pending: 4,
    };
    expect(
      parseAckSubject("$JS.ACK.dom.ACCHASH.KV_cfg_g.abc.1.9.3.1795290191778980147.4.tok"),
    ).toEqual(expected);
    expect(parseAckSubject("$JS.ACK.dom.ACCHASH.KV_cfg_g.abc.1.9.3.1795290191778980147.4")).toEqual(
      expected,
    );
  });

  it("refuses anything that is not an ack subject", () => {
    for (const bad of [
      undefined,
      "",
      "_INBOX.x",
      "$JS.ACK.a.b.c",
      "$JS.ACK.s.c.1.x.1.1.0",
      "$JS.ACK.s.c.1.1.1.1.-1",
      "$JS.ACK.s.c.1.1.1.1.",
      "$JS.ACK.s.c.1.1.1.1.0.x.y.z.w.v.u.t.s.r",
      "$JS.ACK.s.c.1.99999999999999999999.1.1.0",
      "$JS.NAK.s.c.1.1.1.1.0",
    ]) {
      expect(parseAckSubject(bad)).toBeUndefined();
    }
  });

  it("gives a short timestamp as time 0 rather than a wrong time", () => {
    expect(parseAckSubject("$JS.ACK.s.c.1.2.3.123456.0")).toMatchObject({
      timeMs: 0,
      streamSeq: 2,
    });
  });
});

describe("parseAckSubjectBytes", () => {
  const subjects = [
    "$JS.ACK.KV_cfg_g.abc.1.7.5.1795290191778980147.0",
    "$JS.ACK.KON_HB.analytics-hb.3.12345.12000.1763700000123456789.42",
    "$JS.ACK.dom.ACCHASH.KV_cfg_g.abc.1.9.3.1795290191778980147.4.tok",
    "$JS.ACK.dom.ACCHASH.KV_cfg_g.abc.1.9.3.1795290191778980147.4",
    "$JS.ACK.s.c.1.2.3.123456.0",
    "$JS.ACK.s.c.1.2.3.1234567.0",
    "$JS.ACK.s.c.1.999999999999999.3.1234567.0",
    "",
    "$JS.AC",
    "_INBOX.x",
    "$JS.ACK.a.b.c",
    "$JS.ACK.s.c.1.x.1.1.0",
    "$JS.ACK.s.c.1.1.1.1.-1",
    "$JS.ACK.s.c.1.1.1.1.",
    "$JS.ACK.s.c.1.1.1.1.0.x.y.z.w.v.u.t.s.r",
    "$JS.ACK.s.c.1.99999999999999999999.1.1.0",
    "$JS.NAK.s.c.1.1.1.1.0",
    "$js.ack.s.c.1.1.1.1.0",
  ];

  it("reads what the string parser reads, from a subject anywhere in a buffer", () => {
    for (const s of subjects) {
      const before = "MSG kon.hb.g.n 7 ";
      const buf = Buffer.from(`${before}${s} 12\r\n`);
      const start = before.length;
      expect([s, parseAckSubjectBytes(buf, start, start + s.length)]).toEqual([
        s,
        parseAckSubject(s || undefined),
      ]);
    }
  });

  it("does not read past the end it is given", () => {
    const s = "$JS.ACK.s.c.1.2.3.1234567.0";
    const buf = Buffer.from(`${s}5.6.7`);
    expect(parseAckSubjectBytes(buf, 0, s.length)).toEqual(parseAckSubject(s));
    expect(parseAckSubjectBytes(buf, 0, s.length - 2)).toEqual(parseAckSubject(s.slice(0, -2)));
  });
});
