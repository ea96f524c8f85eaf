import { join } from "node:path";
import { z } from "zod";
import { Konorkestra } from "@konorkestra/sdk";
import type { ConfigHandle, Logger } from "@konorkestra/sdk";
import type { TestClientOptions } from "@konorkestra/testkit";
import type { ConfigFinal, ConfigObservation } from "./chaos-tally";

/** What a drill's config nodes read of every file: the editor's counter. */
const schema = z.object({ v: z.number().int() });
type Value = z.output<typeof schema>;

/** Warnings and errors the SDK logged, kept for the report (info lines are dropped). */
class CountingLogger implements Logger {
  warnings = 0;
  last: string[] = [];
  info(): void {}
  warn(msg: string): void {
    this.keep(msg);
  }
  error(msg: string): void {
    this.keep(msg);
  }
  private keep(msg: string): void {
    this.warnings++;
    this.last = [...this.last.slice(-2), msg.slice(0, 300)];
  }
}

/**
 * The config side of the fleet: `count` SDK connections (`Konorkestra.connect`), each a node
 * with a `kon.config(key, schema)` handle per key, as services using Konorkestra run them. Every
 * value a handle makes current is recorded in arrival order, with its revision.
 */
export class ConfigWatchers {
  readonly observations: ConfigObservation[] = [];
  readonly logger = new CountingLogger();
  private readonly handles: { node: string; key: string; handle: ConfigHandle<Value> }[] = [];
  private readonly kons: Konorkestra[] = [];

  static async start(
    client: TestClientOptions,
    group: string,
    keys: readonly string[],
    count: number,
    snapshotRoot: string,
  ): Promise<ConfigWatchers> {
    const w = new ConfigWatchers();
    try {
      for (let i = 0; i < count; i++)
        await w.open(client, group, keys, `chaos-cfg-${i}`, snapshotRoot);
    } catch (err) {
      await w.close();
      throw err;
    }
    return w;
  }

  get nodes(): number {
    return this.kons.length;
  }

  /** Where each node's handle of each key is now. */
  finals(): ConfigFinal[] {
    return this.handles.map(({ node, key, handle }) => ({ node, key, v: handle.value.v }));
  }

  /** Values refused by the SDK (schema, sha256, change set) over all handles so far. */
  refusals(): number {
    return this.handles.filter((h) => h.handle.refused !== undefined).length;
  }

  async close(): Promise<void> {
    for (const k of this.kons.splice(0)) await k.close().catch(() => undefined);
  }

  private async open(
    client: TestClientOptions,
    group: string,
    keys: readonly string[],
    node: string,
    snapshotRoot: string,
  ): Promise<void> {
    const kon = await Konorkestra.connect({
      ...client,
      group,
      nodeId: node,
      service: "chaos-config-node",
      snapshotDir: join(snapshotRoot, node),
      connectTimeoutMs: 10_000,
      logger: this.logger,
    });
    this.kons.push(kon);
    for (const key of keys) {
      const handle = await kon.config(key, schema);
      const record = (revision: number, v: number): void =>
        void this.observations.push({ node, key, revision, v });
      record(handle.revision, handle.value.v);
      handle.onChange((next, _prev, meta) => record(meta.revision, next.v));
      this.handles.push({ node, key, handle });
    }
  }
}
