import { Etcd3 } from "etcd3";
import type { Watcher } from "etcd3";
import { decodeBenchEntry, schemaSupplier } from "./bench-config";
import { closeAll, spreadWatchers } from "./fleet";
import type { Fleet, FleetSpec } from "./fleet";

/** Where the etcd fleet connects. */
export interface EtcdFleetSpec extends FleetSpec {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
}

/**
 * etcd's way: `connections` etcd3 clients, each with its share of `client.watch().key(k)`
 * watchers (etcd3 multiplexes a client's watchers on one gRPC stream; each is its own watch id
 * on the server). Every watcher decodes, parses and validates the value as the raw NATS one does.
 */
export async function startEtcdFleet(spec: EtcdFleetSpec): Promise<Fleet> {
  const clients: Etcd3[] = [];
  const watchers: Watcher[] = [];
  let errors = 0;
  const close = async (): Promise<void> => {
    await closeAll(
      watchers.map((w) => () => w.cancel()),
      spec.logger,
    );
    for (const c of clients) c.close();
  };
  try {
    await Promise.all(
      spreadWatchers(spec.watchers, spec.connections).map(async ({ first, count }) => {
        const client = newEtcdClient(spec.url);
        const schemaFor = schemaSupplier(spec.schemas);
        clients.push(client);
        for (let h = 0; h < count; h++) {
          const index = first + h;
          const schema = schemaFor();
          const w = await client.watch().key(spec.key).create();
          watchers.push(w);
          w.on("put", (kv) => {
            try {
              spec.tracker.applied(index, decodeBenchEntry(kv.value, schema).version);
            } catch (err) {
              if (errors++ === 0) spec.logger.warn(`etcd watcher ${index}: ${String(err)}`);
            }
          });
          w.on("error", (err) => spec.logger.warn(`etcd watcher ${index}: ${String(err)}`));
        }
      }),
    );
  } catch (err) {
    await close();
    throw err;
  }
  return { watchers: spec.watchers, connections: spec.connections, errors: () => errors, close };
}

/**
 * An etcd client with a connection of its own: gRPC shares one TCP connection between channels
 * to the same address unless told to keep a local subchannel pool, which would turn "50 clients"
 * into one.
 */
export function newEtcdClient(url: string): Etcd3 {
  return new Etcd3({ hosts: url, grpcOptions: { "grpc.use_local_subchannel_pool": 1 } });
}
