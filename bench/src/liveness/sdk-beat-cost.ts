import { randomUUID } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import { buildHeartbeat, wireNames } from "@konorkestra/sdk/internal";
import type { HeartbeatIdentity } from "@konorkestra/sdk/internal";
import { startNats } from "@konorkestra/testkit";

/** CPU a service spends per heartbeat on the SDK side. */
export interface SdkBeatCost {
  readonly beats: number;
  /** CPU microseconds (user + system) per beat. */
  readonly cpuUsPerBeat: number;
  /** Bytes of one beat on the wire (the payload). */
  readonly bytes: number;
}

/**
 * What one beat costs the service that sends it: the work of the SDK's heartbeat client per beat
 * — `buildHeartbeat` (the SDK's own), protobuf encoding and a core `publish` — repeated `beats`
 * times on a real connection, as process CPU time per beat. At 1 Hz a service spends that many
 * microseconds per second (plus one timer wake-up per beat, not counted here).
 */
export async function measureSdkBeatCost(beats = 20_000): Promise<SdkBeatCost> {
  const nats = await startNats();
  try {
    const nc = await connect({ ...nats.clientOptions(), name: "bench-sdk-beat-cost" });
    const names = wireNames("kon");
    const id: HeartbeatIdentity = {
      group: "bench",
      nodeId: "svc1",
      intervalMs: 1000,
      allowedMisses: 3,
      serviceName: "bench-svc",
      serviceVersion: "1.0.0",
      instanceId: randomUUID(),
      meta: { zone: "bench" },
    };
    const applied = {
      service1: { revision: 42, sha256: "5e".repeat(32), appliedAtMs: Date.now() },
    };
    const subject = names.heartbeatSubject(id.group, id.nodeId);
    const beat = (seq: number): Uint8Array => {
      const data = encodeMessage(
        Heartbeat,
        buildHeartbeat(id, { seq, sentAtMs: Date.now(), leaving: false, applied }),
      );
      nc.publish(subject, data);
      return data;
    };
    for (let i = 1; i <= 2000; i++) beat(i); // warm the JIT
    await nc.flush();
    let bytes = 0;
    const before = process.cpuUsage();
    for (let i = 1; i <= beats; i++) {
      bytes = beat(i).length;
      // Yield now and then, as a service does between beats, so publishes are flushed.
      if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    }
    await nc.flush();
    const used = process.cpuUsage(before);
    await nc.close();
    return { beats, cpuUsPerBeat: (used.user + used.system) / beats, bytes };
  } finally {
    await nats.stop();
  }
}
