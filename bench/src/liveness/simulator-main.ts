// The bench's simulated fleet in a process of its own (see fleet-simulator.ts): driven over IPC
// by the bench, beating through one member connection (join key, TLS) as the group's nodes.
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { wireNames } from "@konorkestra/sdk/internal";
import type { SimReply, SimRequest } from "./fleet-simulator";
import { natsBeatSink } from "./nats-beat-sink";
import { NodeSimulator } from "./node-simulator";

let nc: NatsConnection | undefined;
let sink: ReturnType<typeof natsBeatSink> | undefined;
let sim: NodeSimulator | undefined;

async function handle(req: SimRequest): Promise<Omit<SimReply & { ok: true }, "id">> {
  switch (req.op) {
    case "init": {
      const names = wireNames(req.conn.prefix);
      nc = await connect({
        servers: req.conn.servers,
        ...(req.conn.caFile ? { tls: { caFile: req.conn.caFile } } : {}),
        token: req.conn.token,
        inboxPrefix: req.conn.inboxPrefix,
        name: "bench-liveness-nodes",
      });
      const group = req.sim.group;
      sink = natsBeatSink(nc, (node) => names.heartbeatSubject(group, node));
      sim = new NodeSimulator(sink, req.sim);
      return { ok: true };
    }
    case "start":
      sim!.start();
      return { ok: true };
    case "stop":
      sim!.stop(req.indexes);
      return { ok: true };
    case "mark":
      sim!.mark();
      return { ok: true };
    case "stats":
      return { ok: true, stats: sim!.stats() };
    case "close": {
      sim?.close();
      await nc?.flush();
      const sent = sink?.sent ?? 0;
      await nc?.close();
      return { ok: true, sent };
    }
  }
}

process.on("message", (m: SimRequest & { id: number }) => {
  void handle(m).then(
    (r) => {
      process.send?.({ ...r, id: m.id });
      if (m.op === "close") process.disconnect?.();
    },
    (err: unknown) => process.send?.({ id: m.id, ok: false, error: String(err) }),
  );
});
// The bench gone (its IPC channel closed): so is the fleet.
process.on("disconnect", () => process.exit(0));
