import type { NatsConnection, Subscription } from "@nats-io/transport-node";

/**
 * One MSG or HMSG as it came off the wire, for a {@link WireTap}. The object is reused and the
 * offsets index `buf`: valid only during the tap's call. `buf` itself is never written to later,
 * so views of it (the payload) may be kept.
 */
export interface WireMsg {
  /** The bytes holding the operation (a socket read, or several joined; not copied per message). */
  readonly buf: Buffer;
  readonly sid: number;
  readonly subjectStart: number;
  readonly subjectEnd: number;
  /** -1 when the message has no reply subject. */
  readonly replyStart: number;
  readonly replyEnd: number;
  /** Headers are buf[headersStart, dataStart) (empty for a MSG). */
  readonly headersStart: number;
  readonly dataStart: number;
  readonly dataEnd: number;
}

/**
 * Takes a message of its subscription straight from the bytes (returns true), or leaves it to
 * nats.js (false), which then parses it and calls the subscription's callback as usual.
 */
export type WireTap = (m: WireMsg) => boolean;

/**
 * Whether `buf[start, end)` contains `part` (e.g. a tap asking whether a message's reply subject
 * names its own consumer), without a view or a string per message.
 */
export function bytesContain(buf: Buffer, start: number, end: number, part: Buffer): boolean {
  const last = end - part.length;
  const first = part[0];
  for (let i = start; i <= last; i++) {
    if (buf[i] !== first) continue;
    let j = 1;
    while (j < part.length && buf[i + j] === part[j]) j++;
    if (j === part.length) return true;
  }
  return false;
}

/** What this needs from nats.js' protocol handler (not part of its typed API). */
interface InnerParser {
  parse(buf: Uint8Array): void;
}
interface SubscriptionLike {
  received: number;
  max?: number;
}
interface ProtocolLike {
  parser?: InnerParser;
  subscriptions?: { get?(sid: number): SubscriptionLike | undefined };
  inMsgs?: number;
  inBytes?: number;
}

const NL = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;
/** nats.js refuses larger messages. */
const MAX_SIZE = 64 * 1024 * 1024;

/** One reader per protocol handler (per connection object; it follows reconnects). */
const readers = new WeakMap<object, WireReader>();

/**
 * The connection's {@link WireReader}, installed in front of nats.js' parser on first use.
 *
 * @returns undefined when the connection lacks nats.js' internals (nothing changes then).
 */
export function wireReader(nc: NatsConnection): WireReader | undefined {
  const protocol = (nc as unknown as { protocol?: ProtocolLike }).protocol;
  if (!protocol || typeof protocol.parser?.parse !== "function") return undefined;
  let reader = readers.get(protocol);
  if (reader) return reader;
  const r = new WireReader(protocol, protocol.parser);
  // nats.js sets a fresh parser on each (re)connect: it goes behind the reader.
  Object.defineProperty(protocol, "parser", {
    configurable: true,
    enumerable: true,
    get: () => r,
    set: (p: InnerParser) => r.reset(p),
  });
  readers.set(protocol, r);
  reader = r;
  return reader;
}

/**
 * Sits between a connection's socket and nats.js' parser and splits the byte stream into whole
 * protocol operations (an operation split across reads is held until it is complete). Messages of
 * a tapped subscription are offered to its {@link WireTap} as bytes: no `MsgImpl`, no subject or
 * reply string unless the tap makes one, no per-byte state machine. Everything else (other
 * subscriptions, messages a tap declines, PING, PONG, +OK, -ERR, INFO) goes to nats.js' own
 * parser as whole operations and in stream order, so its state is never split and it behaves as
 * without the reader. Bytes it cannot frame (not a protocol operation) go to nats.js' parser
 * unchanged from there on, which reports them as it always did.
 *
 * Optionally ({@link coalesceTurns}) the reads of one event-loop turn are joined and handled
 * together after the turn.
 */
export class WireReader implements InnerParser {
  private readonly taps = new Map<number, { sub: Subscription; tap: WireTap }>();
  /** An operation's first bytes, held until the rest arrives (with `restLen` bytes in all). */
  private rest: Uint8Array[] = [];
  private restLen = 0;
  /** Bytes needed before the held operation can be complete (0: unknown, a line's end). */
  private restNeed = 0;
  /** Set by coalesceTurns: where a parse error goes (the reader then runs outside nats.js). */
  private onError: ((err: unknown) => void) | undefined;
  private held: Uint8Array[] = [];
  private scheduled = false;
  /** Bytes this could not frame: nats.js' parser gets the rest of this connection's bytes. */
  private bypass = false;
  /** A parse failed while coalescing: its state is lost, this connection's bytes are dropped. */
  private broken = false;
  private readonly msg: { -readonly [K in keyof WireMsg]: WireMsg[K] } = {
    buf: Buffer.alloc(0),
    sid: 0,
    subjectStart: 0,
    subjectEnd: 0,
    replyStart: -1,
    replyEnd: -1,
    headersStart: 0,
    dataStart: 0,
    dataEnd: 0,
  };

  constructor(
    private readonly protocol: ProtocolLike,
    private inner: InnerParser,
  ) {}

  /**
   * Joins the reads of one event-loop turn and handles them together once every read of the turn
   * is in (`setImmediate`): a message waits at most that turn. A parse error (or a throwing
   * subscription callback) is then reported to `onError` and this connection's later bytes are
   * dropped, which is what nats.js' own reader loop does (its pings then go unanswered and it
   * reconnects, which brings a new parser). Only the first call's `onError` is kept.
   */
  coalesceTurns(onError: (err: unknown) => void): void {
    this.onError ??= onError;
  }

  /**
   * Offers the messages of `sub` (a callback subscription without `max`) to `tap` before nats.js
   * sees them. nats.js' statistics (`stats()`, the subscription's received count) still count a
   * message a tap takes.
   *
   * @returns a function that removes the tap, or undefined when nats.js' subscription table is
   *   not as expected (then its callback receives every message, the documented way).
   */
  tap(sub: Subscription, tap: WireTap): (() => void) | undefined {
    if (typeof this.protocol.subscriptions?.get !== "function") return undefined;
    const sid = sub.getID();
    if (this.protocol.subscriptions.get(sid) !== (sub as unknown)) return undefined;
    const entry = { sub, tap };
    this.taps.set(sid, entry);
    return () => {
      if (this.taps.get(sid) === entry) this.taps.delete(sid);
    };
  }

  /** nats.js set a new parser (a reconnect): what is held for the old connection goes to it. */
  reset(inner: InnerParser): void {
    this.flush();
    // An operation the old connection did not finish never will: dropped, as nats.js would.
    this.rest = [];
    this.restLen = 0;
    this.restNeed = 0;
    this.inner = inner;
    this.bypass = false;
    this.broken = false;
  }

  parse(chunk: Uint8Array): void {
    if (this.broken) return;
    if (this.onError === undefined) return this.take([chunk]);
    this.held.push(chunk);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const held = this.held;
    if (held.length === 0 || this.broken) return;
    this.held = [];
    try {
      this.take(held);
    } catch (err) {
      this.broken = true;
      this.onError?.(err);
    }
  }

  /** Handles the whole operations in the held bytes and these chunks; holds an unfinished one. */
  private take(chunks: Uint8Array[]): void {
    if (this.bypass) {
      for (const c of chunks) this.inner.parse(c);
      return;
    }
    let added = 0;
    for (const c of chunks) added += c.length;
    if (this.restLen > 0 && this.restNeed > 0 && this.restLen + added < this.restNeed) {
      // A large message still arriving: keep the pieces, join them once.
      this.rest.push(...chunks);
      this.restLen += added;
      return;
    }
    const parts = this.restLen > 0 ? [...this.rest, ...chunks] : chunks;
    const buf =
      parts.length === 1 ? asBuffer(parts[0]!) : Buffer.concat(parts, this.restLen + added);
    this.rest = [];
    this.restLen = 0;
    this.restNeed = 0;
    const used = this.frame(buf);
    if (used < buf.length && !this.bypass) {
      this.rest = [buf.subarray(used)];
      this.restLen = buf.length - used;
      this.restNeed = neededFor(buf, used);
    }
  }

  /** Dispatches the whole operations at the start of buf; returns how many bytes they took. */
  private frame(buf: Buffer): number {
    const n = buf.length;
    let i = 0;
    /** Start of the operations not yet handed to nats.js (handed over in one call). */
    let from = 0;
    while (i < n) {
      const op = buf[i]! | 0x20; // lower case
      if (op !== 0x6d /* m */ && op !== 0x68 /* h */) {
        if (!OP_STARTS.has(op)) return this.giveUp(buf, from);
        const nl = buf.indexOf(NL, i);
        if (nl < 0) break;
        i = nl + 1;
        continue;
      }
      const nl = buf.indexOf(NL, i);
      if (nl < 0) break;
      const line = readMsgLine(buf, i, nl);
      if (!line) return this.giveUp(buf, from);
      const end = nl + 1 + line.totalSize + 2;
      if (end > n) break;
      // nats.js ends a message at the next NL after its payload: anything but CR LF there and
      // the two would disagree about where the next operation starts.
      if (buf[end - 1] !== NL || buf[end - 2] !== CR) return this.giveUp(buf, from);
      if (this.taps.size > 0 && this.taps.has(line.sid)) {
        if (from < i) this.inner.parse(buf.subarray(from, i));
        from = i;
        if (this.offer(buf, line, nl + 1)) from = end;
      }
      i = end;
    }
    if (from < i) this.inner.parse(buf.subarray(from, i));
    return i;
  }

  /** Offers a message to its subscription's tap; true when the tap took it. */
  private offer(buf: Buffer, line: MsgLine, start: number): boolean {
    // Looked up again: nats.js' callbacks for the operations just before may have changed them.
    const entry = this.taps.get(line.sid);
    if (!entry) return false;
    const sub = this.protocol.subscriptions?.get?.(line.sid);
    if (sub !== (entry.sub as unknown) || sub === undefined || sub.max !== undefined) return false;
    const m = this.msg;
    m.buf = buf;
    m.sid = line.sid;
    m.subjectStart = line.subjectStart;
    m.subjectEnd = line.subjectEnd;
    m.replyStart = line.replyStart;
    m.replyEnd = line.replyEnd;
    m.headersStart = start;
    m.dataStart = start + line.hdrSize;
    m.dataEnd = start + line.totalSize;
    if (!entry.tap(m)) return false;
    // What nats.js' processMsg counts.
    const p = this.protocol;
    if (typeof p.inMsgs === "number") p.inMsgs += 1;
    if (typeof p.inBytes === "number") p.inBytes += line.totalSize;
    sub.received += 1;
    return true;
  }

  /** Not a protocol operation: nats.js' parser gets the rest of the stream and reports it. */
  private giveUp(buf: Buffer, from: number): number {
    this.bypass = true;
    this.inner.parse(buf.subarray(from));
    return buf.length;
  }
}

/** First bytes (lower case) of the operations other than MSG/HMSG: PING/PONG, +OK, -ERR, INFO. */
const OP_STARTS = new Set([0x70 /* p */, 0x2b | 0x20, 0x2d | 0x20, 0x69 /* i */]);

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** Bytes an unfinished operation at buf[from] needs in all, or 0 when its line is not complete. */
function neededFor(buf: Buffer, from: number): number {
  const op = buf[from]! | 0x20;
  if (op !== 0x6d && op !== 0x68) return 0;
  const nl = buf.indexOf(NL, from);
  if (nl < 0) return 0;
  const line = readMsgLine(buf, from, nl);
  return line ? nl + 1 - from + line.totalSize + 2 : 0;
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

const tokens = new Int32Array(12); // start, end pairs of a control line's arguments
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
 * from buf[from, nl] as nats.js' parser does (case-insensitive operation, arguments separated by
 * spaces, tabs or CR); undefined when nats.js would refuse it. The result is reused.
 */
function readMsgLine(buf: Buffer, from: number, nl: number): MsgLine | undefined {
  const hmsg = (buf[from]! | 0x20) === 0x68;
  const at = hmsg ? from + 1 : from;
  if (
    nl - at < 4 ||
    (buf[at]! | 0x20) !== 0x6d ||
    (buf[at + 1]! | 0x20) !== 0x73 ||
    (buf[at + 2]! | 0x20) !== 0x67 ||
    (buf[at + 3] !== SPACE && buf[at + 3] !== TAB)
  ) {
    return undefined;
  }
  let n = 0;
  let s = -1;
  for (let i = at + 4; i <= nl; i++) {
    const c = buf[i];
    if (c === SPACE || c === TAB || c === CR || c === NL) {
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
  const last = n - 1;
  const hdrSize = hmsg ? digits(buf, tokens[2 * (last - 1)]!, tokens[2 * (last - 1) + 1]!) : 0;
  const totalSize = digits(buf, tokens[2 * last]!, tokens[2 * last + 1]!);
  const sid = digits(buf, tokens[2]!, tokens[3]!);
  if (sid < 0 || hdrSize < 0 || totalSize < hdrSize || totalSize > MAX_SIZE) return undefined;
  parsed.sid = sid;
  parsed.subjectStart = tokens[0]!;
  parsed.subjectEnd = tokens[1]!;
  parsed.replyStart = hasReply ? tokens[4]! : -1;
  parsed.replyEnd = hasReply ? tokens[5]! : -1;
  parsed.hdrSize = hdrSize;
  parsed.totalSize = totalSize;
  return parsed;
}

/** The decimal number in buf[start, end), or -1. */
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
