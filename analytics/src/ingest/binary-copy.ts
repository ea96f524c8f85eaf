// Framing of PostgreSQL's binary COPY format (`COPY … FROM STDIN (FORMAT binary)`): a payload is
// the header, then tuples (a 16-bit field count, then per field a 32-bit length, -1 for NULL, and
// the value in the type's binary send format), then the trailer. heartbeat-tuples.ts writes the
// tuples.

/** Start of every binary COPY payload: signature, flags 0, no header extension. */
export const COPY_BINARY_HEADER = Buffer.concat([
  Buffer.from("PGCOPY\n\xff\r\n\0", "latin1"),
  Buffer.alloc(8),
]);

/** End of every binary COPY payload: a field count of -1. */
export const COPY_BINARY_TRAILER = Buffer.from([0xff, 0xff]);
