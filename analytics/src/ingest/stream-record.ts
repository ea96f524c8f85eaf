/** What the writers need from a stored JetStream message. */
export interface StreamRecord {
  subject: string;
  data: Uint8Array;
  /** Stream sequence: unique within the stream, identical on redelivery. */
  streamSeq: number;
  /** When the server stored the message (ms since the epoch). */
  timeMs: number;
  /** `Nats-Msg-Id`, when the publisher set one. */
  msgId?: string;
}
