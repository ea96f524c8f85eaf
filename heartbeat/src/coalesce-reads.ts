import type { NatsConnection } from "@nats-io/transport-node";

/** What this needs from nats.js' protocol handler and its parser (not part of its typed API). */
interface InnerParser {
  parse(buf: Uint8Array): void;
}
interface ProtocolLike {
  parser?: InnerParser;
}

/** One wrapper per protocol handler. */
const installed = new WeakSet<object>();

/**
 * Hands nats.js' parser the bytes of one event-loop turn at once instead of one TLS record at a
 * time. nats-server writes a TLS client's outbound data in 512-byte records, so at 10,000
 * heartbeats/s the monitor got ~1.8 deliveries per read and most deliveries straddled two
 * records: nats.js' parser then copies the straddling control line byte by byte into a growing
 * buffer and clones the message's arguments, which was a tenth of the monitor's CPU. Records that
 * arrive together (tens per turn under load) are joined (one copy) and parsed in one pass, after
 * every record of the turn was read (`setImmediate`), so a delivery waits at most that turn.
 *
 * Follows reconnects: nats.js makes a new parser per connection; bytes still held for the old
 * one are parsed by it before the new one takes over, so nothing already received is dropped.
 *
 * @returns false when the connection lacks the internals (then nothing changes).
 */
export function coalesceReads(nc: NatsConnection, onError: (err: unknown) => void): boolean {
  const protocol = (nc as unknown as { protocol?: ProtocolLike }).protocol;
  if (!protocol || typeof protocol.parser?.parse !== "function") return false;
  if (installed.has(protocol)) return true;
  installed.add(protocol);
  const turn = new TurnParser(protocol.parser, onError);
  Object.defineProperty(protocol, "parser", {
    configurable: true,
    enumerable: true,
    get: () => turn,
    set: (p: InnerParser) => turn.reset(p),
  });
  return true;
}

class TurnParser implements InnerParser {
  private held: Uint8Array[] = [];
  private scheduled = false;
  /** The parser threw: its state is lost, so this connection's bytes are dropped from now on. */
  private broken = false;

  constructor(
    private inner: InnerParser,
    private readonly onError: (err: unknown) => void,
  ) {}

  reset(inner: InnerParser): void {
    this.flush();
    this.inner = inner;
    this.broken = false;
  }

  parse(chunk: Uint8Array): void {
    if (this.broken) return;
    this.held.push(chunk);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const held = this.held;
    if (held.length === 0) return;
    this.held = [];
    try {
      this.inner.parse(held.length === 1 ? held[0]! : Buffer.concat(held));
    } catch (err) {
      // What nats.js' reader loop did with a parse error: stop reading this connection (its
      // pings then go unanswered and nats.js reconnects, which brings a new parser).
      this.broken = true;
      this.onError(err);
    }
  }
}
