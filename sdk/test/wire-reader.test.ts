import { Kind, Parser } from "@nats-io/nats-core/internal";
import type { ParserEvent } from "@nats-io/nats-core/internal";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { parseAckSubject, parseAckSubjectBytes, wireReader } from "../src/internal";
import type { WireMsg } from "../src/internal";

const TAPPED = 7;
const ACK = (seq: number) => `$JS.ACK.KON_HB.mon.1.${seq}.${seq}.1763700000123456789.${100 - seq}`;

/** A server's side of a session, as bytes: every kind of operation, with the tapped sid's mixed in. */
function recordedStream(): Buffer {
  const ops: string[] = [
    'INFO {"server_id":"x","version":"2.15.1","headers":true}\r\n',
    "+OK\r\n",
    `MSG kon.hb.g.n1 ${TAPPED} ${ACK(1)} 5\r\nhello\r\n`,
    `MSG kon.hb.g.n2 ${TAPPED} ${ACK(2)} 0\r\n\r\n`,
    "PING\r\n",
    // An ordinary delivery with headers.
    `HMSG kon.hb.g.n3 ${TAPPED} ${ACK(3)} 18 22\r\nNATS/1.0\r\nA: b\r\n\r\nbeat\r\n`,
    // Another subscription's message whose payload looks like protocol.
    "MSG other.subject 9 13\r\nPING\r\nMSG x\r\n\r\n",
    // The feed's status messages: no reply, headers only (nats.js must see them).
    `HMSG _INBOX.abc ${TAPPED} 31 31\r\nNATS/1.0 100 Idle Heartbeat\r\n\r\n\r\n`,
    `HMSG _INBOX.abc ${TAPPED} 70 70\r\nNATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 3\r\nNats-Pe: 1\r\n\r\n\r\n`,
    // A reply that is not an ack subject: the tap leaves it to nats.js.
    `MSG _INBOX.abc ${TAPPED} _INBOX.reply 2\r\nno\r\n`,
    "PONG\r\n",
    // A UTF-8 subject token and a tab between arguments.
    `MSG kon.hb.g.nœud\t${TAPPED} ${ACK(4)} 3\r\nabc\r\n`,
    "-ERR 'Permissions Violation for Subscription to \"x\"'\r\n",
    `MSG kon.hb.g.n5 ${TAPPED} ${ACK(5)} 1\r\nz\r\n`,
    "MSG other.subject 9 3\r\nend\r\n",
  ];
  return Buffer.from(ops.join(""));
}

/** What a dispatcher saw, comparable across runs (`via` says who handed a message over). */
function describeEvent(via: string, e: ParserEvent): string {
  if (e.kind !== Kind.MSG) {
    return `${via} ${e.kind} ${e.data ? Buffer.from(e.data).toString() : ""}`;
  }
  const { msg, data } = e as Required<ParserEvent>;
  const text = (b?: Uint8Array) => (b ? Buffer.from(b).toString() : "-");
  return `${via} MSG ${text(msg.subject)} ${msg.sid} ${text(msg.reply)} ${msg.hdr} ${text(data)}`;
}

/** nats.js' parser alone on the whole stream: the reference. */
function reference(stream: Buffer): string[] {
  const seen: string[] = [];
  new Parser({ push: (e: ParserEvent) => seen.push(describeEvent("nats", e)) }).parse(stream);
  return seen;
}

/** The stream through a WireReader in these chunks, with a tap on TAPPED. */
async function throughReader(
  stream: Buffer,
  cuts: number[],
  coalesce: boolean,
): Promise<{ seen: string[]; counts: { inMsgs: number; inBytes: number; received: number } }> {
  const seen: string[] = [];
  const sub = { getID: () => TAPPED, received: 0 } as unknown as Subscription & {
    received: number;
  };
  const protocol = {
    parser: new Parser({ push: (e: ParserEvent) => seen.push(describeEvent("nats", e)) }),
    subscriptions: { get: (sid: number) => (sid === TAPPED ? sub : undefined) },
    inMsgs: 0,
    inBytes: 0,
  };
  const reader = wireReader({ protocol } as unknown as NatsConnection)!;
  if (coalesce) reader.coalesceTurns((err) => seen.push(`error ${String(err)}`));
  const untap = reader.tap(sub, (m: WireMsg) => {
    if (m.replyStart < 0) return false;
    const at = parseAckSubjectBytes(m.buf, m.replyStart, m.replyEnd);
    if (!at) return false;
    const reply = m.buf.toString("utf8", m.replyStart, m.replyEnd);
    expect(at).toEqual(parseAckSubject(reply));
    const hdr = m.dataStart > m.headersStart ? m.dataStart - m.headersStart : -1;
    const payload = m.buf.subarray(m.headersStart, m.dataEnd).toString();
    const subject = m.buf.toString("utf8", m.subjectStart, m.subjectEnd);
    seen.push(`tap MSG ${subject} ${m.sid} ${reply} ${hdr} ${payload}`);
    return true;
  });
  expect(untap).toBeDefined();
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    // A fresh buffer per read, as a socket gives.
    protocol.parser.parse(Uint8Array.from(stream.subarray(from, cut)));
    from = cut;
  }
  if (coalesce) await new Promise((r) => setImmediate(r));
  return {
    seen,
    counts: { inMsgs: protocol.inMsgs, inBytes: protocol.inBytes, received: sub.received },
  };
}

/**
 * The reference with the tapped sid's JetStream deliveries credited to the tap (the first `taps`
 * of them: after bytes it cannot frame the reader hands everything to nats.js).
 */
function expected(stream: Buffer, taps = Infinity): string[] {
  let left = taps;
  return reference(stream).map((line) =>
    line.startsWith(`nats MSG `) &&
    line.split(" ")[3] === String(TAPPED) &&
    line.includes("$JS.ACK.") &&
    left-- > 0
      ? line.replace(/^nats/, "tap")
      : line,
  );
}

/** A deterministic pseudo-random sequence (the test must fail the same way every run). */
function* randomCuts(seed: number, length: number, count: number): Generator<number[]> {
  let x = seed;
  const next = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff), x);
  for (let k = 0; k < count; k++) {
    const cuts = new Set<number>();
    const n = 1 + (next() % 40);
    for (let j = 0; j < n; j++) cuts.add(1 + (next() % (length - 1)));
    yield [...cuts].sort((a, b) => a - b);
  }
}

describe("wireReader", () => {
  const stream = recordedStream();
  const want = expected(stream);

  it("taps the subscription's deliveries and hands nats.js everything else, in order", async () => {
    expect(want.filter((l) => l.startsWith("tap"))).toHaveLength(5);
    expect(want.filter((l) => l.startsWith("nats MSG"))).toHaveLength(5);
    const { seen, counts } = await throughReader(stream, [], false);
    expect(seen).toEqual(want);
    // nats.js' statistics count what the tap took as processMsg would have.
    const tapped = [5, 0, 22, 3, 1];
    expect(counts).toEqual({
      inMsgs: tapped.length,
      inBytes: tapped.reduce((a, b) => a + b, 0),
      received: tapped.length,
    });
  });

  it("gives the same result for a stream cut at every byte, read by read and per turn", async () => {
    // Also a stream where one message's size is one short: nats.js then ends that message at the
    // next NL, and the reader must hand it (and all after it) over rather than frame on its own.
    const wrongSize = Buffer.from(
      stream.toString().replace("other.subject 9 13", "other.subject 9 12"),
    );
    for (const [s, w] of [
      [stream, want],
      [wrongSize, expected(wrongSize, 3)],
    ] as const) {
      for (let cut = 1; cut < s.length; cut++) {
        for (const coalesce of [false, true]) {
          const { seen } = await throughReader(s, [cut], coalesce);
          if (seen.join("\n") !== w.join("\n")) {
            throw new Error(`cut at ${cut} (coalesce ${coalesce}):\n${seen.join("\n")}`);
          }
        }
      }
    }
  });

  it("gives the same result for random cuts into many reads, and one byte per read", async () => {
    const everyByte = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
    for (const cuts of [everyByte, ...randomCuts(14, stream.length, 300)]) {
      for (const coalesce of [false, true]) {
        const { seen } = await throughReader(stream, cuts, coalesce);
        if (seen.join("\n") !== want.join("\n")) {
          throw new Error(`cuts ${cuts.join(",")} (coalesce ${coalesce}):\n${seen.join("\n")}`);
        }
      }
    }
  });

  it("hands what it cannot frame, and all that follows, to nats.js' parser unchanged", async () => {
    const at = stream.indexOf("+OK");
    const bad = Buffer.concat([stream.subarray(0, at), Buffer.from("XYZ\r\n"), stream]);
    const { seen } = await throughReader(bad, [at + 2], true);
    expect(seen).toHaveLength(2);
    expect(seen[1]).toMatch(/^error Error: parse error/);
    expect(seen[0]).toBe(want[0]);
  });

  it("takes nothing after the tap is removed or for a subscription nats.js no longer has", () => {
    const seen: string[] = [];
    const sub = { getID: () => TAPPED, received: 0 } as unknown as Subscription;
    let current: unknown = sub;
    const protocol = {
      parser: new Parser({ push: (e: ParserEvent) => seen.push(describeEvent("nats", e)) }),
      subscriptions: { get: (sid: number) => (sid === TAPPED ? current : undefined) },
    };
    const reader = wireReader({ protocol } as unknown as NatsConnection)!;
    const untap = reader.tap(sub, () => {
      seen.push("tap");
      return true;
    })!;
    const one = Buffer.from(`MSG kon.hb.g.n1 ${TAPPED} ${ACK(1)} 1\r\nx\r\n`);
    protocol.parser.parse(one);
    current = undefined; // unsubscribed: nats.js drops its messages itself
    protocol.parser.parse(one);
    current = sub;
    untap();
    protocol.parser.parse(one);
    expect(seen).toEqual([
      "tap",
      `nats MSG kon.hb.g.n1 7 ${ACK(1)} -1 x`,
      `nats MSG kon.hb.g.n1 7 ${ACK(1)} -1 x`,
    ]);
  });

  it("leaves a connection without nats.js' internals alone", () => {
    expect(wireReader({} as NatsConnection)).toBeUndefined();
    const reader = wireReader({
      protocol: { parser: { parse() {} } },
    } as unknown as NatsConnection);
    expect(reader?.tap({ getID: () => 1 } as unknown as Subscription, () => true)).toBeUndefined();
  });
});
