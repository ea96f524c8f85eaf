import { loadStackEnv, startEtcd } from "@konorkestra/testkit";
import type { EtcdServer } from "@konorkestra/testkit";
import type { Logger } from "@konorkestra/sdk";
import { ApplyTracker } from "./apply-tracker";
import { encodeBenchEntry } from "./bench-config";
import { startEtcdFleet, newEtcdClient } from "./etcd-fleet";
import { measureFleet } from "./measure-fleet";
import type { FleetOutcome } from "./measure-fleet";
import type { FleetPlan, FleetShape } from "./nats-variants";

/** The etcd key the etcd watchers watch (the value is the same ConfigEntry bytes). */
const ETCD_KEY = "/kon/bench-etcd/checkout";

/** Why the etcd comparison cannot run here, or undefined when it can. */
export function etcdUnavailable(): string | undefined {
  try {
    if (loadStackEnv().etcd) return undefined;
  } catch (err) {
    return String(err);
  }
  return "no etcd provisioned on this machine: run 'make bench-deps' (or pass --skip-etcd)";
}

/** A started etcd with its version, to stop at the end of the run. */
export interface EtcdHandle {
  readonly server: EtcdServer;
  readonly version: string;
}

/** Starts etcd and asks it its version (stops it again if that fails). */
export async function startEtcdForBench(): Promise<EtcdHandle> {
  const server = await startEtcd();
  const client = newEtcdClient(server.url);
  try {
    const status = await client.maintenance.status();
    return { server, version: status.version };
  } catch (err) {
    await server.stop();
    throw err;
  } finally {
    client.close();
  }
}

/** etcd watchers over etcd3 clients; the writer is a client of its own doing `put`. */
export async function measureEtcd(
  etcd: EtcdHandle,
  shape: FleetShape,
  plan: FleetPlan,
  logger: Logger,
): Promise<FleetOutcome> {
  const writer = newEtcdClient(etcd.server.url);
  try {
    const write = (version: number): Promise<unknown> =>
      writer
        .put(ETCD_KEY)
        .value(Buffer.from(encodeBenchEntry("checkout", version)))
        .exec();
    await write(1);
    const tracker = new ApplyTracker(shape.watchers);
    return await measureFleet(
      () => startEtcdFleet({ ...shape, url: etcd.server.url, key: ETCD_KEY, tracker, logger }),
      tracker,
      { ...plan, firstVersion: 2 },
      write,
    );
  } finally {
    writer.close();
  }
}
