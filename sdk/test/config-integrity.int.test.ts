import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { z } from "zod";
import { ConfigEvent, ConfigSnapshot, decodeMessage, encodeMessage } from "@konorkestra/proto";
import { Konorkestra } from "../src";
import type { ConfigRefusal } from "../src";
import { ensureConfigBucket, wireNames } from "../src/internal";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { putChangeSet, putConfig, sha256Of } from "./helpers/put-config";
import { recordingLogger, waitFor } from "./helpers/wait-for";

const Db = z.object({ host: z.string(), port: z.number().int().min(1).max(65535) });
const Part = z.object({ v: z.number() });
const FORGED = "0".repeat(64);

describe("kon.config integrity and refusals (issue 10 item 5, issue 11 item 10)", () => {
  let nats: NatsServer;
  let admin: NatsConnection;
  let snapshotDir: string;
  const kons: Konorkestra[] = [];

  async function kon(group: string, nodeId: string, logger = recordingLogger()) {
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

  function collect(sub: Subscription): ConfigEvent[] {
    const events: ConfigEvent[] = [];
    void (async () => {
      for await (const m of sub) events.push(decodeMessage(ConfigEvent, m.data));
    })();
    return events;
  }

  beforeAll(async () => {
    nats = await startNats();
    admin = await connect(nats.clientOptions());
    for (const g of ["i1", "i2", "i3", "i4", "i5"]) await ensureConfigBucket(admin, wireNames(), g);
    snapshotDir = mkdtempSync(join(tmpdir(), "kon-cfg-integrity-"));
  });
  afterAll(async () => {
    for (const k of kons) await k.close();
    await admin?.close();
    await nats?.stop();
    rmSync(snapshotDir, { recursive: true, force: true });
  });

  it("refuses an entry whose sha256 is not its payload's: last good stays, reported, onRefused", async () => {
    const events = collect(admin.subscribe("kon.evt.i1.config.rejected"));
    await admin.flush();
    const good = await putConfig(admin, "i1", "db", { host: "a", port: 1 });
    const logger = recordingLogger();
    const k = await kon("i1", "node-i", logger);
    const cfg = await k.config("db", Db);
    const changes: unknown[] = [];
    const refusals: ConfigRefusal[] = [];
    cfg.onChange((next) => {
      changes.push(next);
    });
    cfg.onRefused((r) => {
      refusals.push(r);
    });
    const forged = await putConfig(
      admin,
      "i1",
      "db",
      { host: "evil", port: 2 },
      { sha256: FORGED },
    );
    await waitFor("the refusal", () => refusals.length === 1 && events.length === 1);
    const why = `sha256 mismatch: the entry claims ${FORGED}, its payload hashes to ${sha256Of({ host: "evil", port: 2 })}`;
    expect(refusals[0]).toEqual({
      key: "db",
      revision: forged,
      reason: why,
      code: "syntax",
      valuePath: "",
      sha256: FORGED,
      changeSetId: expect.any(String) as string,
      sourcePath: "db.json",
      keptRevision: good,
    });
    expect(cfg.refused).toEqual(refusals[0]);
    expect(events[0]).toMatchObject({
      kind: ConfigEvent.Kind.REJECTED,
      key: "db",
      revision: forged,
      sha256: FORGED,
      nodeId: "node-i",
      error: { reason: why, code: "syntax" },
    });
    expect(cfg.value).toEqual({ host: "a", port: 1 });
    expect(cfg.revision).toBe(good);
    expect(changes).toHaveLength(0);
    expect(k.applied.get("db")).toMatchObject({ revision: good, rejectedRevision: forged });
    expect(logger.lines.join("\n")).toContain(`refusing config db revision ${forged}: ${why}`);

    // A correct entry after it is applied and clears `refused`.
    const fixed = await putConfig(admin, "i1", "db", { host: "b", port: 3 });
    await waitFor("the fix", () => cfg.revision === fixed);
    expect(cfg.refused).toBeUndefined();
    expect(changes).toEqual([{ host: "b", port: 3 }]);
  });

  it("a forged current value refuses kon.config without a default, and is `refused` with one", async () => {
    const forged = await putConfig(admin, "i2", "db", { host: "x", port: 1 }, { sha256: FORGED });
    const k = await kon("i2", "n");
    await expect(k.config("db", Db)).rejects.toMatchObject({
      code: "CONFIG_INVALID",
      message: expect.stringMatching(
        new RegExp(`config db revision ${forged} is refused: sha256 mismatch`),
      ) as string,
    });
    const d = await k.config("db", Db, { default: { host: "default", port: 9 } });
    expect(d.value).toEqual({ host: "default", port: 9 });
    expect(d.refused).toMatchObject({ revision: forged, keptRevision: 0 });
  });

  it("onRefused says which key, revision and why for a schema refusal", async () => {
    const good = await putConfig(admin, "i3", "db", { host: "a", port: 5432 });
    const k = await kon("i3", "n");
    const cfg = await k.config("db", Db);
    const refusals: ConfigRefusal[] = [];
    cfg.onRefused((r) => {
      refusals.push(r);
    });
    const bad = await putConfig(admin, "i3", "db", { host: "a", port: 70000 });
    await waitFor("the refusal", () => refusals.length === 1);
    expect(refusals[0]).toMatchObject({
      key: "db",
      revision: bad,
      code: "schema",
      valuePath: "/port",
      keptRevision: good,
      sha256: sha256Of({ host: "a", port: 70000 }),
    });
    expect(refusals[0]!.reason).toMatch(/^schema: \/port: .*65535/);
  });

  it("tells every handle of a refused change set, naming the key at fault", async () => {
    await putChangeSet(admin, "i4", { a: { v: 1 }, b: { v: 1 } });
    const k = await kon("i4", "n");
    const [a, b] = await Promise.all(["a", "b"].map((key) => k.config(key, Part)));
    const seen: string[] = [];
    for (const h of [a!, b!]) {
      h.onRefused((r) => {
        seen.push(`${r.key}:${r.code}:${r.reason}`);
      });
    }
    await putChangeSet(admin, "i4", { a: { v: 2 }, b: { v: "x" } }, "cs-bad");
    await waitFor("both refusals", () => seen.length === 2);
    expect(seen[0]).toBe("a:change-set:change set cs-bad (b invalid)");
    expect(seen[1]).toMatch(/^b:schema:schema: \/v: /);
    expect([a!.value.v, b!.value.v]).toEqual([1, 1]);
  });

  it("refuses a tampered entry in the on-disk snapshot too", async () => {
    await putConfig(admin, "i5", "db", { host: "a", port: 1 });
    const first = await kon("i5", "n");
    await first.config("db", Db);
    await first.close(); // writes the snapshot

    // Someone with write access to the file changes the payload but not the hash.
    const path = join(snapshotDir, "kon-i5.pb");
    const snap = decodeMessage(ConfigSnapshot, readFileSync(path));
    snap.entries.db!.payload = Buffer.from(JSON.stringify({ host: "evil", port: 1 }));
    writeFileSync(path, encodeMessage(ConfigSnapshot, snap));

    await nats.shutdown();
    try {
      const k = await Konorkestra.connect({
        ...nats.clientOptions(),
        group: "i5",
        nodeId: "n",
        snapshotDir,
        connectTimeoutMs: 100,
        logger: recordingLogger(),
      });
      kons.push(k);
      expect(k.online).toBe(false);
      await expect(k.config("db", Db, { readyTimeoutMs: 100 })).rejects.toMatchObject({
        code: "CONFIG_INVALID",
        message: expect.stringMatching(/sha256 mismatch/) as string,
      });
    } finally {
      await nats.restart();
    }
  });
});
