import { createHash } from "node:crypto";
import { Heartbeat, encodeMessage } from "@konorkestra/proto";

/** Group of the simulated fleet. */
export const BENCH_GROUP = "bench";
/** Group of the lag probes: their rows are found by a cheap index look-up. */
export const PROBE_GROUP = "probe";
/** Config keys every simulated node reports, as a service with three config files would. */
const CONFIG_KEYS = ["fleet", "bench.db", "bench.features"] as const;
const INTERVAL_MS = 1000;

const sha = (s: string): string => createHash("sha256").update(s).digest("hex");

export const nodeId = (i: number): string => `node-${String(i).padStart(5, "0")}`;

/**
 * The simulated fleet: what the SDK heartbeat client of each node would send (process info and
 * three config revisions with sha256, ~390 bytes encoded). The part that never changes is encoded
 * once per node and the changing fields (seq, sent at, uptime) are appended per beat: protobuf
 * allows fields in any order, and a full encode (~16 µs here) would make the publisher, not the
 * ingest, the bottleneck.
 */
export class BenchFleet {
  private readonly statics: Buffer[];
  private readonly subjects: string[];
  private readonly instances: string[];
  private readonly config: string;
  readonly startedAtMs = Date.now() - 3_600_000;

  constructor(readonly nodes: number) {
    const revisions = CONFIG_KEYS.map((k, i) => ({ k, revision: 10 + i, sha256: sha(k) }));
    this.config = JSON.stringify(Object.fromEntries(revisions.map((r) => [r.k, r.revision])));
    this.instances = Array.from({ length: nodes }, (_, i) => sha(`instance-${i}`).slice(0, 16));
    this.subjects = Array.from({ length: nodes }, (_, i) => `kon.hb.${BENCH_GROUP}.${nodeId(i)}`);
    this.statics = Array.from({ length: nodes }, (_, i) =>
      Buffer.from(
        encodeMessage(Heartbeat, {
          group: BENCH_GROUP,
          nodeId: nodeId(i),
          intervalMs: INTERVAL_MS,
          allowedMisses: 3,
          leaving: false,
          process: {
            pid: 1000 + (i % 30000),
            hostname: `host-${Math.floor(i / 4)}.bench.internal`,
            sdkVersion: "0.1.0",
            nodeVersion: "v20.19.0",
            serviceName: `service${(i % 3) + 1}`,
            serviceVersion: "1.4.2",
            instanceId: this.instances[i],
          },
          config: Object.fromEntries(
            revisions.map((r) => [
              r.k,
              { revision: r.revision, sha256: r.sha256, appliedAtMs: this.startedAtMs },
            ]),
          ),
        }),
      ),
    );
  }

  /** Heartbeat number `n` of the run: node n mod nodes, its seq counting from `seqBase`. */
  beat(n: number, seqBase: number, sentAtMs: number): { subject: string; data: Uint8Array } {
    const i = n % this.nodes;
    const seq = seqBase + Math.floor(n / this.nodes) + 1;
    const tail = Heartbeat.encode({
      seq,
      sentAtMs,
      uptimeMs: sentAtMs - this.startedAtMs,
    }).finish();
    return { subject: this.subjects[i]!, data: Buffer.concat([this.statics[i]!, tail]) };
  }

  /**
   * A `config_set` value for the ceiling's rows: an int8 like the ingest's (a 53-bit hash of the
   * fleet's `{"key": revision}` set); the ceiling needs the column's shape, not the ingest's hash.
   */
  configSet(): number {
    return parseInt(sha(this.config).slice(0, 13), 16);
  }

  /** Instance id of node i, for the ceiling's rows. */
  instanceId(i: number): string {
    return this.instances[i % this.nodes]!;
  }
}

/** A lag probe: an ordinary heartbeat of one of a few probe nodes. */
export function probeBeat(
  probe: number,
  seq: number,
  sentAtMs: number,
): { subject: string; data: Uint8Array; node: string } {
  const node = `probe-${probe}`;
  const data = encodeMessage(Heartbeat, {
    group: PROBE_GROUP,
    nodeId: node,
    seq,
    sentAtMs,
    uptimeMs: seq * INTERVAL_MS,
    intervalMs: INTERVAL_MS,
    allowedMisses: 3,
    process: { pid: 1, hostname: "probe", sdkVersion: "0.1.0", instanceId: `probe-${probe}` },
  });
  return { subject: `kon.hb.${PROBE_GROUP}.${node}`, data, node };
}
