import type { TestClientOptions } from "@konorkestra/testkit";
import { Kvm, KvWatchInclude } from "@nats-io/kv";
import type { KvWatchEntry } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection, QueuedIterator } from "@nats-io/transport-node";
import { decodeBenchEntry, schemaSupplier } from "./bench-config";
import { closeAll, spreadWatchers } from "./fleet";
import type { Fleet, FleetSpec } from "./fleet";
import type { BenchSchema } from "./bench-config";

/** Where the raw fleet connects. */
export interface RawKvFleetSpec extends FleetSpec {
  readonly client: TestClientOptions;
  /** KV bucket name (`cfg_<group>`). */
  readonly bucket: string;
}

/**
 * The obvious way without the SDK: one `kv.watch({ key })` per watcher (each its own ordered
 * consumer on the server), spread over `connections` plain NATS connections. Every watcher
 * decodes the ConfigEntry, parses the JSON and validates it with its own zod schema — the same
 * work an SDK handle's value costs it, minus the sharing.
 */
export async function startRawKvFleet(spec: RawKvFleetSpec): Promise<Fleet> {
  const conns: NatsConnection[] = [];
  const watches: QueuedIterator<KvWatchEntry>[] = [];
  let errors = 0;
  const close = async (): Promise<void> => {
    for (const w of watches) w.stop();
    await closeAll(
      conns.map((nc) => () => nc.close()),
      spec.logger,
    );
  };
  const consume = async (
    iter: QueuedIterator<KvWatchEntry>,
    index: number,
    schema: BenchSchema,
  ): Promise<void> => {
    for await (const e of iter) {
      if (e.operation !== "PUT") continue;
      try {
        spec.tracker.applied(index, decodeBenchEntry(e.value, schema).version);
      } catch (err) {
        if (errors++ === 0) spec.logger.warn(`raw watcher ${index}: ${String(err)}`);
      }
    }
  };
  try {
    await Promise.all(
      spreadWatchers(spec.watchers, spec.connections).map(async ({ first, count }, c) => {
        const nc = await connect({ ...spec.client, name: `bench-raw-${c}` });
        conns.push(nc);
        const kv = await new Kvm(nc).open(spec.bucket);
        const schemaFor = schemaSupplier(spec.schemas);
        for (let h = 0; h < count; h++) {
          const iter = await kv.watch({ key: spec.key, include: KvWatchInclude.UpdatesOnly });
          watches.push(iter);
          consume(iter, first + h, schemaFor()).catch((err: unknown) =>
            spec.logger.warn(`raw watcher ${first + h} ended: ${String(err)}`),
          );
        }
      }),
    );
  } catch (err) {
    await close();
    throw err;
  }
  return { watchers: spec.watchers, connections: spec.connections, errors: () => errors, close };
}
