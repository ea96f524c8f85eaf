import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { Konorkestra, silentLogger } from "../src";
import { ensureConfigBucket, wireNames } from "../src/internal";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { putConfig, sha256Of } from "./helpers/put-config";
import { waitFor } from "./helpers/wait-for";

const Service1 = z.object({
  name: z.string(),
  database: z.object({ host: z.string(), port: z.number().int() }),
  features: z.array(z.string()).default([]),
});
type Service1 = z.output<typeof Service1>;

const v1 = { name: "svc", database: { host: "db1", port: 5432 } };

describe("kon.config (NATS source)", () => {
  let nats: NatsServer;
  let admin: NatsConnection;
  let snapshotDir: string;
  const kons: Konorkestra[] = [];

  async function kon(group: string, nodeId: string): Promise<Konorkestra> {
    const k = await Konorkestra.connect({
      ...nats.clientOptions(),
      group,
      nodeId,
      snapshotDir,
      logger: silentLogger,
    });
    kons.push(k);
    return k;
  }

  beforeAll(async () => {
    nats = await startNats();
    admin = await connect(nats.clientOptions());
    for (const g of ["g1", "shared"]) await ensureConfigBucket(admin, wireNames(), g);
    snapshotDir = mkdtempSync(join(tmpdir(), "kon-cfg-values-"));
  });
  afterAll(async () => {
    for (const k of kons) await k.close();
    await admin?.close();
    await nats?.stop();
    rmSync(snapshotDir, { recursive: true, force: true });
  });

  it("resolves with the typed, deep-frozen current value and its meta", async () => {
    const rev = await putConfig(admin, "g1", "service1", v1, {
      gitCommit: "abc123",
      gitAuthor: "Ada <ada@example.org>",
      sourcePath: "g1/service1.yaml",
    });
    const k = await kon("g1", "n1");
    const cfg = await k.config("service1", Service1);
    const port: number = cfg.value.database.port;
    expect(port).toBe(5432);
    expect(cfg.value.features).toEqual([]); // zod default applied
    expect(Object.isFrozen(cfg.value)).toBe(true);
    expect(Object.isFrozen(cfg.value.database)).toBe(true);
    expect(() => {
      (cfg.value.database as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(cfg.getConfig()).toBe(cfg.value);
    expect(k.getConfig("service1")).toBe(cfg.value);
    expect(cfg.revision).toBe(rev);
    expect(cfg.source).toBe("nats");
    expect(cfg.stale).toBe(false);
    expect(cfg.meta).toMatchObject({
      revision: rev,
      sha256: sha256Of(v1),
      gitCommit: "abc123",
      gitAuthor: "Ada <ada@example.org>",
      sourcePath: "g1/service1.yaml",
      changeSetSize: 1,
      origin: "nats",
    });
    expect(cfg.meta.updatedAt.getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(k.applied.get("service1")).toMatchObject({ revision: rev, sha256: sha256Of(v1) });
  });

  it("calls onChange with next, prev and meta, and stops after unsubscribe", async () => {
    const k = await kon("g1", "n2");
    await putConfig(admin, "g1", "service1", v1);
    const cfg = await k.config("service1", Service1);
    const calls: { next: Service1; prev: Service1; rev: number }[] = [];
    const off = cfg.onChange((next, prev, meta) => {
      calls.push({ next: next as Service1, prev: prev as Service1, rev: meta.revision });
    });
    const v2 = { ...v1, database: { host: "db2", port: 6543 } };
    const rev2 = await putConfig(admin, "g1", "service1", v2);
    await waitFor("onChange", () => calls.length === 1);
    expect(calls[0]).toMatchObject({ next: v2, prev: v1, rev: rev2 });
    expect(cfg.value).toBe(calls[0]!.next);
    off();
    const rev3 = await putConfig(admin, "g1", "service1", v1);
    expect(await cfg.ensureFresh()).toBe(rev3);
    expect(calls).toHaveLength(1);
  });

  it("select fires only when the selected slice changes", async () => {
    const k = await kon("g1", "n3");
    await putConfig(admin, "g1", "service1", v1);
    const cfg = await k.config("service1", Service1);
    const seen: [unknown, unknown][] = [];
    cfg.select(
      (c) => c.database,
      (db, prev) => {
        seen.push([db, prev]);
      },
    );
    const renamed = { ...v1, name: "other", features: ["x"] };
    await putConfig(admin, "g1", "service1", renamed);
    await cfg.ensureFresh();
    expect(cfg.value.name).toBe("other");
    expect(seen).toHaveLength(0);
    const moved = { ...renamed, database: { host: "db9", port: 5432 } };
    await putConfig(admin, "g1", "service1", moved);
    await cfg.ensureFresh();
    expect(seen).toEqual([[moved.database, v1.database]]);
  });

  it("ensureFresh returns once the newest revision is applied", async () => {
    const k = await kon("g1", "n4");
    const cfg = await k.config("service1", Service1);
    for (let i = 0; i < 5; i++) {
      const rev = await putConfig(admin, "g1", "service1", { ...v1, name: `n${i}` });
      // No waiting in between: ensureFresh alone must bring the value up to `rev`.
      expect(await cfg.ensureFresh()).toBe(rev);
      expect(cfg.value.name).toBe(`n${i}`);
    }
  });

  it("shares one server-side consumer among every handle of a connection", async () => {
    await putConfig(admin, "shared", "a", v1);
    await putConfig(admin, "shared", "b", { x: 1 });
    const other = z.object({ x: z.number() });
    const k1 = await kon("shared", "s1");
    const k2 = await kon("shared", "s2");
    const a = await Promise.all([1, 2, 3, 4, 5].map(() => k1.config("a", Service1)));
    const b = await Promise.all([1, 2].map(() => k1.config("b", other)));
    const c = await Promise.all([1, 2, 3].map(() => k2.config("a", Service1)));
    const jsm = await jetstreamManager(admin);
    const consumers = await jsm.consumers.list("KV_cfg_shared").next();
    expect(consumers).toHaveLength(2);
    // Same key and schema on one connection: one parsed, frozen value object.
    expect(new Set(a.map((h) => h.value)).size).toBe(1);
    const v2 = { ...v1, name: "fan-out" };
    const rev = await putConfig(admin, "shared", "a", v2);
    await waitFor("every handle", () => [...a, ...c].every((h) => h.revision === rev));
    expect([...a, ...c].every((h) => h.value.name === "fan-out")).toBe(true);
    expect(b.every((h) => h.value.x === 1)).toBe(true);
    expect((await jsm.consumers.list("KV_cfg_shared").next()).length).toBe(2);
  });

  it("rejects an absent key, or runs on its default until it appears", async () => {
    const k = await kon("g1", "n5");
    await expect(k.config("missing", Service1)).rejects.toMatchObject({
      code: "CONFIG_NOT_FOUND",
    });
    const dflt = { name: "default", database: { host: "localhost", port: 1 } };
    const cfg = await k.config("later", Service1, { default: dflt });
    expect(cfg.source).toBe("default");
    expect(cfg.revision).toBe(0);
    expect(cfg.value).toEqual({ ...dflt, features: [] });
    const prevs: unknown[] = [];
    cfg.onChange((_next, prev) => {
      prevs.push(prev);
    });
    const rev = await putConfig(admin, "g1", "later", v1);
    await waitFor("later", () => cfg.revision === rev);
    expect(cfg.source).toBe("nats");
    expect(cfg.value.database.host).toBe("db1");
    expect(prevs).toEqual([{ ...dflt, features: [] }]);
    await expect(k.config("bad key!", Service1)).rejects.toMatchObject({ code: "INVALID_NAME" });
    await expect(
      k.config("x", Service1, { default: { name: 1 } as unknown as Service1 }),
    ).rejects.toMatchObject({ code: "INVALID_OPTIONS" });
  });
});
