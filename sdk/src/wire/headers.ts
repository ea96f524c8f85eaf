/**
 * Header names on the wire: the server's (`Nats-*`, `KV-*`) that Konorkestra reads or sets, and its
 * own (`Kon-*`). docs/wire-contract.md says what each carries.
 */
export const NatsHeader = {
  /** De-duplication id of a published message (events carry their event id). */
  MsgId: "Nats-Msg-Id",
  /** Per-message TTL, whole seconds (`"3s"`); the liveness key's expiry. */
  Ttl: "Nats-TTL",
  /** Set by the server on a delete marker it wrote (`MaxAge` when a TTL expired). */
  MarkerReason: "Nats-Marker-Reason",
  /** `sub`: the message replaces every earlier one of its subject. */
  Rollup: "Nats-Rollup",
  BatchId: "Nats-Batch-Id",
  BatchSequence: "Nats-Batch-Sequence",
  BatchCommit: "Nats-Batch-Commit",
  /** On a push consumer's flow-control status message: the reply subject to answer. */
  ConsumerStalled: "Nats-Consumer-Stalled",
  /** On a push consumer's idle heartbeat: the last consumer sequence the server delivered. */
  LastConsumer: "Nats-Last-Consumer",
  /** `PUT`, `DEL` or `PURGE` on a KV stream message (absent on a PUT). */
  KvOperation: "KV-Operation",
} as const;

export const KonHeader = {
  /** Change-set id on every message of a config change set. */
  ChangeSet: "Kon-Change-Set",
  /** Number of messages in that change set. */
  ChangeSetSize: "Kon-Change-Set-Size",
  /** Liveness record (`kon_nodes`): the node's status when written (`up`, `down`, `left`). */
  Status: "Kon-Status",
  /** Liveness record: sequence and send time of the last heartbeat. */
  HeartbeatSeq: "Kon-Hb-Seq",
  HeartbeatAt: "Kon-Hb-At",
  /** Liveness record: TTL, interval and allowed misses the key was written with. */
  TtlMs: "Kon-Ttl-Ms",
  IntervalMs: "Kon-Interval-Ms",
  Misses: "Kon-Misses",
  /** Liveness record: recent down times of the node (flapping), comma-separated epoch ms. */
  DownTimes: "Kon-Down-Times",
  /** Liveness record: id of the monitor that wrote it. */
  Monitor: "Kon-Monitor",
} as const;
