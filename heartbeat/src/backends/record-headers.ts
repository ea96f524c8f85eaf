import { headers } from "@nats-io/transport-node";
import type { MsgHdrs } from "@nats-io/transport-node";
import { KonHeader } from "@konorkestra/sdk/internal";
import type { NodeRecordFields } from "./node-record";

/** Header name and value pairs of a `kon_nodes` record, in the order they are sent. */
export type HeaderPairs = readonly (readonly [string, string])[];

/**
 * The `Kon-*` headers of a record (docs/wire-contract.md §6), then `extra` (`Nats-TTL`,
 * `KV-Operation`, ...). Every value is ASCII without CR or LF: numbers, a status word, a monitor
 * id (`[A-Za-z0-9_-]`).
 */
export function recordHeaderPairs(
  f: NodeRecordFields,
  monitorId: string,
  extra: HeaderPairs = [],
): HeaderPairs {
  const pairs: [string, string][] = [
    [KonHeader.Status, f.status],
    [KonHeader.HeartbeatSeq, String(f.lastSeq)],
    [KonHeader.HeartbeatAt, String(f.lastAtMs)],
    [KonHeader.TtlMs, String(f.ttlMs)],
    [KonHeader.IntervalMs, String(f.intervalMs)],
    [KonHeader.Misses, String(f.allowedMisses)],
  ];
  if (f.downTimes.length > 0) pairs.push([KonHeader.DownTimes, f.downTimes.join(",")]);
  pairs.push([KonHeader.Monitor, monitorId]);
  for (const p of extra) pairs.push([p[0], p[1]]);
  return pairs;
}

/** nats.js headers filled from pairs (for the rare writes that go through `js.publish`). */
export function msgHdrsOf(pairs: HeaderPairs): MsgHdrs {
  const h = headers();
  for (const [k, v] of pairs) h.append(k, v);
  return h;
}

const ascii = new TextEncoder();
/** How a header name is matched (nats.js' `Match`). */
type Match = Parameters<MsgHdrs["get"]>[1];

/**
 * Headers handed to `nc.publish` already encoded: the block `NATS/1.0\r\nK: v\r\n...\r\n` is
 * built as one string and encoded once. nats.js' own `MsgHdrs` validates and canonicalises every
 * name and searches its map on each `set`: at ~3,300 record writes/s that was a tenth of the
 * monitor's CPU. A core publish reads its headers only through `encode()` (nats-core 3.4,
 * `ProtocolHandler.publish`; the method is its `MsgHdrsImpl`'s, outside the `MsgHdrs` type),
 * which this provides. The read side of {@link MsgHdrs} works on a nats.js copy made when first
 * asked. Changing them throws: nats.js changes the headers it is handed when told to add its own
 * (`js.publish` with `msgID`, `ttl` or `expect`; a core publish with `traceOnly` or
 * `traceDestination`), and those writes take {@link msgHdrsOf}.
 */
export class EncodedHeaders implements MsgHdrs {
  private readonly bytes: Uint8Array;
  private view: MsgHdrs | undefined;

  constructor(private readonly pairs: HeaderPairs) {
    let s = "NATS/1.0";
    for (const [k, v] of pairs) s += `\r\n${k}: ${v}`;
    this.bytes = ascii.encode(`${s}\r\n\r\n`);
  }

  /** The wire form of the block, as nats.js' publish asks for it. */
  encode(): Uint8Array {
    return this.bytes;
  }

  // An outgoing block has no status line: what nats.js' headers() report before one is read.
  get hasError(): boolean {
    return false;
  }
  get status(): string {
    return "";
  }
  get code(): number {
    return 0;
  }
  get description(): string {
    return "";
  }
  get(k: string, match?: Match): string {
    return this.copy().get(k, match);
  }
  last(k: string, match?: Match): string {
    return this.copy().last(k, match);
  }
  has(k: string, match?: Match): boolean {
    return this.copy().has(k, match);
  }
  keys(): string[] {
    return this.copy().keys();
  }
  values(k: string, match?: Match): string[] {
    return this.copy().values(k, match);
  }
  set(k: string): never {
    throw unchangeable("set", k);
  }
  append(k: string): never {
    throw unchangeable("append", k);
  }
  delete(k: string): never {
    throw unchangeable("delete", k);
  }
  [Symbol.iterator](): Iterator<[string, string[]]> {
    return this.copy()[Symbol.iterator]();
  }

  private copy(): MsgHdrs {
    return (this.view ??= msgHdrsOf(this.pairs));
  }
}

function unchangeable(op: string, k: string): Error {
  return new TypeError(
    `EncodedHeaders are encoded once and cannot ${op} ${k}: put the header in its pairs, or ` +
      `publish with msgHdrsOf(pairs) where nats.js adds headers (js.publish, trace options)`,
  );
}
