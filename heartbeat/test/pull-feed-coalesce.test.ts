import type { NatsConnection } from "@nats-io/transport-node";
import { coalesceReads } from "../src/coalesce-reads";

/** Stands in for nats.js' protocol handler: only its `parser` property is used. */
function fakeConnection() {
  const got: string[] = [];
  const parser = (tag: string, failOn?: string) => ({
    parse(b: Uint8Array) {
      const text = Buffer.from(b).toString();
      if (failOn && text.includes(failOn)) throw new Error("bad protocol line");
      got.push(`${tag}:${text}`);
    },
  });
  const protocol: { parser: { parse(b: Uint8Array): void } } = { parser: parser("first") };
  const nc = { protocol } as unknown as NatsConnection;
  return { nc, protocol, got, parser };
}

const bytes = (s: string) => new TextEncoder().encode(s);
const turn = () => new Promise((r) => setImmediate(r));

// The wrapper that makes nats.js parse one event-loop turn's TLS records in one pass.
describe("coalesceReads", () => {
  it("parses the chunks of one turn together, in order, after the turn", async () => {
    const { nc, protocol, got } = fakeConnection();
    expect(coalesceReads(nc, () => undefined)).toBe(true);
    protocol.parser.parse(bytes("MSG a 1 3\r\n"));
    protocol.parser.parse(bytes("abc\r\nPI"));
    protocol.parser.parse(bytes("NG\r\n"));
    expect(got).toEqual([]);
    await turn();
    expect(got).toEqual(["first:MSG a 1 3\r\nabc\r\nPING\r\n"]);
    protocol.parser.parse(bytes("PONG\r\n"));
    await turn();
    expect(got).toEqual(["first:MSG a 1 3\r\nabc\r\nPING\r\n", "first:PONG\r\n"]);
    // Installing twice changes nothing.
    expect(coalesceReads(nc, () => undefined)).toBe(true);
  });

  it("hands bytes held for the old connection to its parser before a reconnect's new one", async () => {
    const { nc, protocol, got, parser } = fakeConnection();
    coalesceReads(nc, () => undefined);
    protocol.parser.parse(bytes("old"));
    protocol.parser = parser("second"); // what nats.js does on a reconnect
    protocol.parser.parse(bytes("new"));
    await turn();
    expect(got).toEqual(["first:old", "second:new"]);
  });

  it("reports a parse error instead of throwing, and drops that connection's later bytes", async () => {
    const { nc, protocol, got, parser } = fakeConnection();
    const errors: unknown[] = [];
    protocol.parser = parser("first", "BAD");
    coalesceReads(nc, (err) => errors.push(err));
    protocol.parser.parse(bytes("BAD"));
    await turn();
    protocol.parser.parse(bytes("more"));
    await turn();
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/bad protocol line/);
    expect(got).toEqual([]);
    protocol.parser = parser("second");
    protocol.parser.parse(bytes("fresh"));
    await turn();
    expect(got).toEqual(["second:fresh"]);
  });

  it("leaves a connection without nats.js' internals alone", () => {
    expect(coalesceReads({} as NatsConnection, () => undefined)).toBe(false);
  });
});
