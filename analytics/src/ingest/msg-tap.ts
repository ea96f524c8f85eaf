import type { NatsConnection } from "@nats-io/transport-node";

/**
 * One delivery read straight off the wire: subject and reply as strings, headers and payload as
 * views of the bytes the socket handed over (not copied; nothing reuses them).
 */
export type TapHandler = (
  subject: string,
  reply: string | undefined,
  headers: Uint8Array | undefined,
  data: Uint8Array,
) => void;

/** What this needs from nats.js' protocol handler and its parser (not part of its typed API). */
interface InnerParser {
  parse(buf: Uint8Array): void;
}
interface ProtocolLike {
  parser?: InnerParser;
}

const NL = 10;
const SPACE = 32;
const TAB = 9;
const CR = 13;
const M = 77;
const H = 72;

/** One tap per protocol handler, shared by every subscription that asks for one. */
const taps = new WeakMap<object, TapParser>();

/**
 * Routes the deliveries of subscription `sid` to `handler` before nats.js' parser sees them: no
 * `MsgImpl`/`JsMsg`, no per-byte state machine, no argument arrays or inbound buffer per message.
 * At 100,000 deliveries per second that parser and its garbage were a quarter of the analytics
 * ingest's CPU. Everything else on the connection (other subscriptions, PING, INFO, -ERR) goes
 * to nats.js' own parser as whole protocol operations, so its state is never split.
 *
 * The tap follows the connection through reconnects (nats.js makes a new parser per connection;
 * the new one is wrapped as it is set). The subscription stays a normal nats.js one (nats.js
 * still re-subscribes it after a reconnect and unsubscribes it); only its deliveries bypass it.
 *
 * @returns a function that removes the tap, or undefined when the connection lacks the internals
 *   (then the subscription's own callback receives the messages, the slower documented way).
 */
export function tapSubscription(
  nc: NatsConnection,
  sid: number,
  handler: TapHandler,
): (() => void) | undefined {
  const protocol = (nc as unknown as { protocol?: ProtocolLike }).protocol;
  if (!protocol || typeof protocol.parser?.parse !== "function") return undefined;
  let tap = taps.get(protocol);
  if (!tap) {
    tap = new TapParser(protocol.parser);
    install(protocol, tap);
    taps.set(protocol, tap);
  }
  tap.handlers.set(sid, handler);
  const t = tap;
  return () => {
    t.handlers.delete(sid);
  };
}

/** Makes `protocol.parser` the tap, and wraps the fresh parser nats.js sets on each reconnect. */
function install(protocol: ProtocolLike, tap: TapParser): void {
  Object.defineProperty(protocol, "parser", {
    configurable: true,
    enumerable: true,
    get: () => tap,
    set: (p: InnerParser) => tap.reset(p),
  });
}

/** Control line of a MSG/HMSG: where the subject and reply are (replyStart -1: none), sizes. */
interface MsgLine {
  sid: number;
  subjectStart: number;
  subjectEnd: number;
  replyStart: number;
  replyEnd: number;
  hdrSize: number;
  totalSize: number;
}

class TapParser implements InnerParser {
  readonly handlers = new Map<number, TapHandler>();
  /** The start of an operation that the last chunk ended inside. */
  private rest: Buffer | undefined;
  /** After a line this cannot read, everything goes to nats.js' parser (which reports it). */
  private bypass = false;

  constructor(private inner: InnerParser) {}

  reset(inner: InnerParser): void {
    this.inner = inner;
    this.rest = undefined;
    this.bypass = false;
  }

  parse(chunk: Uint8Array): void {
    if (this.bypass) return this.inner.parse(chunk);
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.rest) {
      // Join only the straddling operation's bytes, not the whole chunk.
      const need = completion(this.rest, buf);
      if (need < 0) {
        this.rest = Buffer.concat([this.rest, buf]);
        return;
      }
      const head = Buffer.concat([this.rest, buf.subarray(0, need)]);
      this.rest = undefined;
      const used = this.parseOps(head);
      if (this.bypass) return this.inner.parse(buf.subarray(need));
      if (used < head.length) {
        // Not expected (completion() measured one operation); keep the order of the bytes.
        this.rest = Buffer.concat([head.subarray(used), buf.subarray(need)]);
        return;
      }
      buf = buf.subarray(need);
    }
    const used = this.parseOps(buf);
    if (!this.bypass && used < buf.length) this.rest = buf.subarray(used);
  }

  /** Handles the whole operations at the start of buf; returns how many bytes they took. */
  private parseOps(buf: Buffer): number {
    let i = 0;
    while (i < buf.length) {
      const nl = buf.indexOf(NL, i);
      if (nl < 0) break;
      const op = buf[i];
      if (op !== M && op !== H) {
        this.inner.parse(buf.subarray(i, nl + 1));
        i = nl + 1;
        continue;
      }
      const line = readMsgLine(buf, i, nl);
      if (!line) {
        this.bypass = true;
        this.inner.parse(buf.subarray(i));
        return buf.length;
      }
      const end = nl + 1 + line.totalSize + 2;
      if (end > buf.length) break;
      const handler = this.handlers.get(line.sid);
      if (handler) deliver(handler, buf, line, nl + 1);
      else this.inner.parse(buf.subarray(i, end));
      i = end;
    }
    return i;
  }
}

function deliver(handler: TapHandler, buf: Buffer, line: MsgLine, start: number): void {
  const subject = buf.toString("utf8", line.subjectStart, line.subjectEnd);
  const reply =
    line.replyStart >= 0 ? buf.toString("latin1", line.replyStart, line.replyEnd) : undefined;
  const headers = line.hdrSize > 0 ? buf.subarray(start, start + line.hdrSize) : undefined;
  const data = buf.subarray(start + line.hdrSize, start + line.totalSize);
  handler(subject, reply, headers, data);
}

/**
 * How many bytes of `next` complete the operation that `rest` (the end of the previous chunk)
 * starts; -1 when `next` does not hold them all either.
 */
function completion(rest: Buffer, next: Buffer): number {
  const op = rest[0];
  const nlInRest = rest.indexOf(NL);
  if (op !== M && op !== H) {
    const j = next.indexOf(NL);
    return j < 0 ? -1 : j + 1;
  }
  let lineEnd: number; // bytes of `next` up to and including the control line's NL
  let line: MsgLine | undefined;
  if (nlInRest >= 0) {
    lineEnd = nlInRest + 1 - rest.length;
    line = readMsgLine(rest, 0, nlInRest);
  } else {
    const j = next.indexOf(NL);
    if (j < 0) return -1;
    lineEnd = j + 1;
    const joined = Buffer.concat([rest, next.subarray(0, j + 1)]);
    line = readMsgLine(joined, 0, joined.length - 1);
  }
  // A line this cannot read: hand over everything, parseOps() then bypasses the tap.
  if (!line) return next.length;
  const need = lineEnd + line.totalSize + 2;
  return need <= next.length ? need : -1;
}

const tokens = new Int32Array(12); // start, end pairs of a control line's tokens
const parsed: MsgLine = {
  sid: 0,
  subjectStart: 0,
  subjectEnd: 0,
  replyStart: -1,
  replyEnd: -1,
  hdrSize: 0,
  totalSize: 0,
};

/**
 * Reads `MSG <subject> <sid> [reply] <size>` or `HMSG <subject> <sid> [reply] <hdr> <total>`
 * from buf[from, nl); undefined if it is neither. The result is reused by the next call.
 */
function readMsgLine(buf: Buffer, from: number, nl: number): MsgLine | undefined {
  const hmsg = buf[from] === H;
  const end = nl > from && buf[nl - 1] === CR ? nl - 1 : nl;
  let n = 0;
  let s = -1;
  for (let i = from + (hmsg ? 4 : 3); i <= end; i++) {
    const c = i < end ? buf[i] : SPACE;
    if (c === SPACE || c === TAB) {
      if (s >= 0) {
        if (n === 6) return undefined;
        tokens[2 * n] = s;
        tokens[2 * n + 1] = i;
        n++;
      }
      s = -1;
    } else if (s < 0) s = i;
  }
  const want = hmsg ? 4 : 3;
  if (n !== want && n !== want + 1) return undefined;
  const hasReply = n === want + 1;
  const sizeAt = hasReply ? 3 : 2;
  const hdrSize = hmsg ? digits(buf, tokens[2 * sizeAt]!, tokens[2 * sizeAt + 1]!) : 0;
  const last = n - 1;
  const totalSize = digits(buf, tokens[2 * last]!, tokens[2 * last + 1]!);
  const sid = digits(buf, tokens[2]!, tokens[3]!);
  if (sid < 0 || hdrSize < 0 || totalSize < hdrSize) return undefined;
  parsed.sid = sid;
  parsed.subjectStart = tokens[0]!;
  parsed.subjectEnd = tokens[1]!;
  parsed.replyStart = hasReply ? tokens[4]! : -1;
  parsed.replyEnd = hasReply ? tokens[5]! : -1;
  parsed.hdrSize = hdrSize;
  parsed.totalSize = totalSize;
  return parsed;
}

function digits(buf: Buffer, start: number, end: number): number {
  if (end <= start || end - start > 12) return -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i]! - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}
