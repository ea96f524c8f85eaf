import type { TestClientOptions } from "@konorkestra/testkit";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { ensureConfigBucket } from "@konorkestra/sdk/internal";
import type { Logger } from "@konorkestra/sdk";
import type { WireNames } from "@konorkestra/sdk/internal";
import { ApplyTracker } from "./apply-tracker";
import { encodeBenchEntry } from "./bench-config";
import type { SchemaPolicy } from "./bench-config";
import { measureFleet } from "./measure-fleet";
import type { FleetOutcome } from "./measure-fleet";
import { startRawKvFleet } from "./raw-kv-fleet";
import type { RoundPlan } from "./run-rounds";
import { startSdkFleet } from "./sdk-fleet";

/** The NATS side of the benchmark: server, the writer's connection, scratch space. */
export interface NatsBench {
  readonly client: TestClientOptions;
  /** The writer's connection (separate from every watcher's). */
  readonly writer: NatsConnection;
  readonly names: WireNames;
  readonly scratch: string;
  readonly logger: Logger;
}

/** Shape of a fleet measurement. */
export interface FleetShape {
  readonly watchers: number;
  readonly connections: number;
  readonly schemas: SchemaPolicy;
}

export type FleetPlan = Omit<RoundPlan, "firstVersion"> & { readonly settleMs: number };

/** The config key every NATS variant watches. */
export const BENCH_KEY = "checkout";

/**
 * Creates the group's bucket and writes version 1 of the key (the SDK handles need a value to
 * open on). Returns the writer of later versions: a JetStream publish of the ConfigEntry to
 * `$KV.cfg_<group>.<key>`, acknowledged by the server — exactly what a lone `kv.put` sends.
 */
async function prepareGroup(
  bench: NatsBench,
  group: string,
): Promise<(version: number) => Promise<unknown>> {
  await ensureConfigBucket(bench.writer, bench.names, group);
  const js = jetstream(bench.writer);
  const subject = `$KV.${bench.names.configBucket(group)}.${BENCH_KEY}`;
  const write = (version: number): Promise<unknown> =>
    js.publish(subject, encodeBenchEntry(BENCH_KEY, version));
  await write(1);
  return write;
}

/** SDK handles (one, or a fleet) on a group of their own. */
export async function measureSdk(
  bench: NatsBench,
  group: string,
  shape: FleetShape,
  plan: FleetPlan,
): Promise<FleetOutcome> {
  const write = await prepareGroup(bench, group);
  const tracker = new ApplyTracker(shape.watchers);
  return measureFleet(
    () =>
      startSdkFleet({
        ...shape,
        client: bench.client,
        group,
        key: BENCH_KEY,
        snapshotRoot: join(bench.scratch, `snapshots-${group}`),
        tracker,
        logger: bench.logger,
      }),
    tracker,
    { ...plan, firstVersion: 2 },
    write,
  );
}

/** One raw `kv.watch` per watcher, on a group of its own. */
export async function measureRawKv(
  bench: NatsBench,
  group: string,
  shape: FleetShape,
  plan: FleetPlan,
): Promise<FleetOutcome> {
  const write = await prepareGroup(bench, group);
  const tracker = new ApplyTracker(shape.watchers);
  return measureFleet(
    () =>
      startRawKvFleet({
        ...shape,
        client: bench.client,
        bucket: bench.names.configBucket(group),
        key: BENCH_KEY,
        tracker,
        logger: bench.logger,
      }),
    tracker,
    { ...plan, firstVersion: 2 },
    write,
  );
}
