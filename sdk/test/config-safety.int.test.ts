import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { z } from "zod";
import { ConfigEvent, decodeMessage } from "@konorkestra/proto";
import { Konorkestra } from "../src";
import { configJsonSchema } from "../src/config/schema-registration";
import { ensureConfigBucket, wireNames } from "../src/internal";
import type { AppliedChangeSet } from "../src";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { putChangeSet, putConfig } from "./helpers/put-config";
import { recordingLogger, sleep, waitFor } from "./helpers/wait-for";

const Db = z.object({ host: z.string(), port: z.number().int().min(1).max(65535) });
const Part = z.object({ v: z.number() });

describe("kon.config safety", () => {
  let nats: NatsServer;
  let admin: NatsConnection;
  let snapshotDir: string;
  const kons: Konorkestra[] = [];

  async function kon(
    group: string,
    nodeId: string,
    logger = recordingLogger(),
  ): Promise<Konorkestra> {
    const k = await Konorkestra.connect({
      ...nats.clientOptions(),
      group,
      nodeId,
      snapshotDir,
      logger,
    });
    kons.push(k);
    return k;
  }

  beforeAll(async () => {
    nats = await startNats();
    admin = await connect(nats.clientOptions());
    for (const g of ["s1", "s2", "s3", "s4", "s5"]) await ensureConfigBucket(admin, wireNames(), g);
    snapshotDir = mkdtempSync(join(tmpdir(), "kon-cfg-safety-"));
  });
  afterAll(async () => {
    for (const k of kons) await k.close();
    await admin?.close();
    await nats?.stop();
    rmSync(snapshotDir, { recursive: true, force: true });
  });

  function collect(sub: Subscription): ConfigEvent[] {
    const events: ConfigEvent[] = [];
    void (async () => {
      for await (const m of sub) events.push(decodeMessage(ConfigEvent, m.data));
    })();
    return events;
  }

  it("refuses a value that fails the schema: last good stays, no handler, config.rejected", async () => {
    const events = collect(admin.subscribe("kon.evt.s1.config.rejected"));
    await admin.flush();
    const good = await putConfig(admin, "s1", "db", { host: "a", port: 5432 });
    const k = await kon("s1", "node-r");
    const cfg = await k.config("db", Db);
    const calls: unknown[] = [];
    cfg.onChange((next) => {
      calls.push(next);
    });
    const bad = await putConfig(admin, "s1", "db", { host: "a", port: 70000 });
    await waitFor("rejected event", () => events.length === 1);
    expect(events[0]).toMatchObject({
      kind: ConfigEvent.Kind.REJECTED,
      nodeId: "node-r",
      group: "s1",
      key: "db",
      revision: bad,
      eventId: `rej:s1:db:${bad}:node-r`,
    });
    expect(events[0]!.error?.valuePath).toBe("/port");
    expect(events[0]!.error?.code).toBe("schema");
    expect(events[0]!.error?.reason).toMatch(/\/port: .*65535/);
    expect(cfg.value).toEqual({ host: "a", port: 5432 });
    expect(cfg.revision).toBe(good);
    expect(calls).toHaveLength(0);
    expect(k.applied.get("db")).toMatchObject({ revision: good, rejectedRevision: bad });
    await expect(cfg.ensureFresh()).rejects.toMatchObject({ code: "CONFIG_INVALID" });
    // Stored in KON_EVENTS too, not only seen on the subject.
    const stored = await (
      await k.jetstreamManager()
    ).streams.getMessage("KON_EVENTS", {
      last_by_subj: "kon.evt.s1.config.rejected",
    });
    expect(stored && decodeMessage(ConfigEvent, stored.data).nodeId).toBe("node-r");
    const fixed = await putConfig(admin, "s1", "db", { host: "b", port: 5433 });
    expect(await cfg.ensureFresh()).toBe(fixed);
    expect(calls).toEqual([{ host: "b", port: 5433 }]);
    expect(k.applied.get("db")?.rejectedRevision).toBeUndefined();
  });

  it("keeps going after a throwing handler", async () => {
    const logger = recordingLogger();
    await putConfig(admin, "s2", "db", { host: "a", port: 1 });
    const k = await kon("s2", "n", logger);
    const cfg = await k.config("db", Db);
    const seen: number[] = [];
    cfg.onChange(() => {
      throw new Error("boom");
    });
    cfg.onChange(async () => {
      await sleep(1);
      throw new Error("async boom");
    });
    cfg.onChange((next) => {
      seen.push(next.port);
    });
    for (const port of [2, 3]) await putConfig(admin, "s2", "db", { host: "a", port });
    await waitFor("both changes", () => seen.length === 2);
    expect(seen).toEqual([2, 3]);
    const failed = (re: RegExp): number => logger.lines.filter((l) => re.test(l)).length;
    expect(failed(/onChange\(db\) handler failed: Error: boom/)).toBe(2);
    expect(failed(/onChange\(db\) handler failed: Error: async boom/)).toBe(2);
  });

  it("runs async handlers one swap at a time, in order", async () => {
    await putConfig(admin, "s3", "db", { host: "a", port: 1 });
    const k = await kon("s3", "n");
    const cfg = await k.config("db", Db);
    const log: string[] = [];
    cfg.onChange(async (next) => {
      log.push(`start ${next.port} value=${cfg.value.port}`);
      await sleep(30);
      log.push(`end ${next.port} value=${cfg.value.port}`);
    });
    cfg.onChange((next) => {
      log.push(`second ${next.port}`);
    });
    for (const port of [2, 3, 4]) await putConfig(admin, "s3", "db", { host: "a", port });
    await waitFor("three swaps", () => log.length === 9);
    expect(log).toEqual([
      "start 2 value=2",
      "end 2 value=2",
      "second 2",
      "start 3 value=3",
      "end 3 value=3",
      "second 3",
      "start 4 value=4",
      "end 4 value=4",
      "second 4",
    ]);
  });

  it("applies the keys of a change set together, or refuses them together", async () => {
    const events = collect(admin.subscribe("kon.evt.s4.config.rejected"));
    await admin.flush();
    await putChangeSet(admin, "s4", { a: { v: 1 }, b: { v: 1 }, c: { v: 1 } });
    const k = await kon("s4", "n");
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((key) => k.config(key, Part)));
    const observed: string[] = [];
    const sets: AppliedChangeSet[] = [];
    for (const h of [a!, b!, c!]) {
      h.onChange((_next, _prev, meta) => {
        observed.push(`${h.key}:${meta.changeSetSize}:${a!.value.v}${b!.value.v}${c!.value.v}`);
      });
    }
    k.onConfigChangeSet((set) => {
      sets.push(set);
    });
    const last = await putChangeSet(admin, "s4", { a: { v: 2 }, b: { v: 2 }, c: { v: 2 } }, "cs-2");
    await waitFor("change set", () => sets.length === 1);
    expect(observed).toEqual(["a:3:222", "b:3:222", "c:3:222"]);
    expect(sets[0]).toEqual({
      id: "cs-2",
      revisions: { a: last - 2, b: last - 1, c: last },
      origin: "nats",
    });
    expect(a!.meta.changeSetId).toBe("cs-2");

    // One invalid key refuses the whole set: nothing changes, b is reported.
    const bad = await putChangeSet(
      admin,
      "s4",
      { a: { v: 3 }, b: { v: "x" }, c: { v: 3 } },
      "cs-3",
    );
    await waitFor("rejection", () => events.length === 1);
    expect(events[0]).toMatchObject({ key: "b", revision: bad - 1, changeSetId: "cs-3" });
    expect([a!.value.v, b!.value.v, c!.value.v]).toEqual([2, 2, 2]);
    expect(k.applied.get("a")).toMatchObject({ revision: last - 2, rejectedRevision: bad - 2 });
    expect(observed).toHaveLength(3);
    expect(sets).toHaveLength(1);
  });

  it("registers the JSON Schema of the key in kon_schemas for the loader", async () => {
    await putConfig(admin, "s5", "db", { host: "a", port: 1 });
    const k = await kon("s5", "schema-node");
    await k.config("db", Db);
    const kv = await new Kvm(admin).open("kon_schemas");
    let stored: { schema: object; service: string; nodeId: string } | undefined;
    await waitFor("schema registration", async () => {
      const e = await kv.get("s5.db");
      // One record per key, every live registration in it (per service and version).
      const all = e?.length ? e.json<{ registrations: (typeof stored)[] }>() : undefined;
      expect(all?.registrations.length ?? 1).toBe(1);
      stored = all?.registrations[0];
      return stored !== undefined;
    });
    expect(stored!.nodeId).toBe("schema-node");
    expect(stored!.service).toBe(k.options.service);
    // zod's draft 2020-12 export, as the loader's ajv/dist/2020 expects it.
    expect(stored!.schema).toEqual(configJsonSchema(Db));
    expect(stored!.schema).toMatchObject({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      required: ["host", "port"],
      properties: { port: { type: "integer", minimum: 1, maximum: 65535 } },
    });
  });
});
