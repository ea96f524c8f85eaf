import type { TestClientOptions } from "@konorkestra/testkit";
import { join } from "node:path";
import { Konorkestra } from "@konorkestra/sdk";
import { schemaSupplier } from "./bench-config";
import { closeAll, spreadWatchers } from "./fleet";
import type { Fleet, FleetSpec } from "./fleet";

/** Where the SDK fleet connects. */
export interface SdkFleetSpec extends FleetSpec {
  readonly client: TestClientOptions;
  readonly group: string;
  /** Each connection gets its own snapshot directory below it, as separate services would. */
  readonly snapshotRoot: string;
}

/**
 * The Konorkestra way: `connections` SDK connections (`Konorkestra.connect`), each opening its
 * share of `kon.config(key, schema)` handles. Each connection runs one shared watch on the
 * group's bucket; it decodes and JSON-parses a change once and zod-parses it once per distinct
 * schema object (see SchemaPolicy), then swaps every handle's value and runs its `onChange`
 * handler — that handler is where a watcher counts as having applied the change.
 */
export async function startSdkFleet(spec: SdkFleetSpec): Promise<Fleet> {
  const kons: Konorkestra[] = [];
  const close = (): Promise<void> =>
    closeAll(
      kons.map((k) => () => k.close()),
      spec.logger,
    );
  try {
    await Promise.all(
      spreadWatchers(spec.watchers, spec.connections).map(async ({ first, count }, c) => {
        const kon = await Konorkestra.connect({
          ...spec.client,
          group: spec.group,
          nodeId: `bench-sdk-${c}`,
          service: "bench-propagation",
          snapshotDir: join(spec.snapshotRoot, `conn-${c}`),
          connectTimeoutMs: 10_000,
          logger: spec.logger,
        });
        kons.push(kon);
        if (!kon.online)
          throw new Error(`SDK connection ${c} could not reach ${spec.client.servers.join(",")}`);
        const schemaFor = schemaSupplier(spec.schemas);
        for (let h = 0; h < count; h++) {
          const index = first + h;
          const handle = await kon.config(spec.key, schemaFor());
          handle.onChange((next) => spec.tracker.applied(index, next.version));
        }
      }),
    );
  } catch (err) {
    await close();
    throw err;
  }
  return {
    watchers: spec.watchers,
    connections: spec.connections,
    // Refusals are the SDK's business: they are logged by it and the tracker times out.
    errors: () => 0,
    close,
  };
}
