import type { NatsConnection } from "@nats-io/transport-node";
import { wireReader } from "@konorkestra/sdk/internal";

/**
 * Makes the monitor's connection handle the bytes of one event-loop turn at once instead of one
 * TLS record at a time (the sdk's {@link wireReader}, which also frames the operations for the
 * heartbeat feed's tap). nats-server writes a TLS client's outbound data in 512-byte records, so
 * at 10,000 heartbeats/s the monitor got ~1.8 deliveries per read and most deliveries straddled
 * two records: nats.js' parser then copied the straddling control line byte by byte into a
 * growing buffer and cloned the message's arguments, which was a tenth of the monitor's CPU.
 * Records that arrive together (tens per turn under load) are joined (one copy) and handled in one
 * pass after every record of the turn was read (`setImmediate`), so a delivery waits at most that
 * turn.
 *
 * For the whole connection: install it once, where the connection is opened.
 *
 * @returns false when the connection lacks nats.js' internals (then nothing changes).
 */
export function coalesceReads(nc: NatsConnection, onError: (err: unknown) => void): boolean {
  const reader = wireReader(nc);
  if (!reader) return false;
  reader.coalesceTurns(onError);
  return true;
}
