import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { Konorkestra } from "../src";
import type { AppliedChangeSet } from "../src";
import { recordingLogger, waitFor } from "./helpers/wait-for";

const Service1 = z.object({ name: z.string(), replicas: z.number().int().min(1) });
const Db = z.object({ host: z.string(), port: z.number() });

describe("KON_CONFIG_SOURCE=file:<dir>", () => {
  let root: string;
  let group: string;
  let kon: Konorkestra;
  const logger = recordingLogger();

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "kon-cfg-file-"));
    group = join(root, "local");
    mkdirSync(join(group, "service1"), { recursive: true });
    writeFileSync(join(group, "service1.yaml"), "name: one\nreplicas: 2\n");
    writeFileSync(join(group, "service1", "db.json"), '{"host":"localhost","port":5432}');
    // No NATS anywhere: the servers option points at a port nothing listens on.
    kon = await Konorkestra.connect({
      servers: "nats://127.0.0.1:1",
      group: "local",
      nodeId: "dev",
      configSource: `file:${root}`,
      logger,
    });
  });
  afterAll(async () => {
    await kon?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("reads <dir>/<group>/<key path> from JSON and YAML, with no NATS", async () => {
    const s1 = await kon.config("service1", Service1);
    const db = await kon.config("service1.db", Db);
    expect(kon.online).toBe(false);
    expect(s1.value).toEqual({ name: "one", replicas: 2 });
    expect(db.value).toEqual({ host: "localhost", port: 5432 });
    expect(Object.isFrozen(s1.value)).toBe(true);
    expect(s1.source).toBe("file");
    expect(s1.meta.sourcePath).toBe("local/service1.yaml");
    expect(db.meta.sourcePath).toBe("local/service1/db.json");
    expect(s1.revision).toBeGreaterThan(0);
    await expect(kon.config("absent", Db)).rejects.toMatchObject({ code: "CONFIG_NOT_FOUND" });
  });

  it("hot-swaps on save, applies files saved together as one change set", async () => {
    const s1 = await kon.config("service1", Service1);
    const db = await kon.config("service1.db", Db);
    const seen: string[] = [];
    s1.onChange((next, prev) => {
      seen.push(`${prev.replicas}->${next.replicas} db=${db.value.port}`);
    });
    const sets: AppliedChangeSet[] = [];
    const off = kon.onConfigChangeSet((set) => {
      sets.push(set);
    });
    writeFileSync(join(group, "service1.yaml"), "name: one\nreplicas: 3\n");
    writeFileSync(join(group, "service1", "db.json"), '{"host":"localhost","port":6543}');
    const rev = await s1.ensureFresh();
    expect(s1.value.replicas).toBe(3);
    expect(db.value.port).toBe(6543);
    expect(s1.revision).toBe(rev);
    await waitFor("change set", () => sets.length > 0);
    // Both files in one set: the handler of one saw the other's new value.
    expect(seen).toEqual(["2->3 db=6543"]);
    expect(Object.keys(sets[0]!.revisions).sort()).toEqual(["service1", "service1.db"]);
    expect(sets[0]!.origin).toBe("file");
    off();
  });

  it("keeps the last good value on a syntax error or a schema failure", async () => {
    const s1 = await kon.config("service1", Service1);
    const calls: unknown[] = [];
    s1.onChange((next) => {
      calls.push(next);
    });
    const before = s1.revision;
    writeFileSync(join(group, "service1.yaml"), "name: [unclosed\n");
    await s1.ensureFresh();
    expect(s1.value.replicas).toBe(3);
    expect(logger.lines.join("\n")).toMatch(/service1\.yaml not applied/);
    writeFileSync(join(group, "service1.yaml"), "name: one\nreplicas: 0\n");
    await expect(s1.ensureFresh()).rejects.toMatchObject({ code: "CONFIG_INVALID" });
    expect(s1.value.replicas).toBe(3);
    expect(s1.revision).toBe(before);
    expect(calls).toHaveLength(0);
    expect(kon.applied.get("service1")?.rejectedRevision).toBeGreaterThan(before);
    writeFileSync(join(group, "service1.yaml"), "name: one\nreplicas: 4\n");
    await waitFor("the watcher picks up the fix", () => s1.value.replicas === 4);
    expect(calls).toEqual([{ name: "one", replicas: 4 }]);
  });

  it("marks a removed file's key deleted and keeps its value", async () => {
    const db = await kon.config("service1.db", Db);
    unlinkSync(join(group, "service1", "db.json"));
    await waitFor("deletion", () => db.deleted);
    expect(db.value.port).toBe(6543);
  });

  it("reads the folder by the config-loader's rules", async () => {
    const dir = join(root, "rules");
    mkdirSync(join(dir, "svc"), { recursive: true });
    writeFileSync(join(dir, "svc", "db.json"), '{ "port": 5432,\n "host": "h" }');
    writeFileSync(join(dir, ".db.json"), '{"hidden": true}');
    writeFileSync(join(dir, "dup.json"), '{"a": 1}');
    writeFileSync(join(dir, "dup.yaml"), "a: 2\n");
    writeFileSync(join(dir, "twice.yaml"), "a: 1\na: 2\n");
    const log = recordingLogger();
    const k = await Konorkestra.connect({
      group: "rules",
      nodeId: "dev",
      configSource: `file:${root}`,
      logger: log,
    });
    try {
      const db = await k.config("svc.db", Db);
      // Canonical JSON, as the loader publishes it: sorted keys, no white space.
      expect(db.meta.sha256).toBe(
        createHash("sha256").update('{"host":"h","port":5432}').digest("hex"),
      );
      for (const key of ["dup", "twice"]) {
        await expect(k.config(key, z.unknown())).rejects.toMatchObject({
          code: "CONFIG_NOT_FOUND",
        });
      }
      const said = log.lines.join("\n");
      expect(said).toMatch(/rules\/dup\.json not applied: key "dup" is defined by several files/);
      expect(said).toMatch(/rules\/twice\.yaml not applied \(line 2, column 1\): invalid YAML/);
      expect(said).not.toMatch(/\.db\.json/);
    } finally {
      await k.close();
    }
  });

  it("takes the loader's size limit (maxValueBytes, KON_MAX_VALUE_BYTES)", async () => {
    const dir = join(root, "sized");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "small.json"), '{"a":1}');
    writeFileSync(join(dir, "big.json"), JSON.stringify({ a: "x".repeat(200) }));
    const log = recordingLogger();
    const k = await Konorkestra.connect({
      group: "sized",
      nodeId: "dev",
      configSource: `file:${root}`,
      maxValueBytes: 100,
      logger: log,
    });
    try {
      expect((await k.config("small", z.object({ a: z.number() }))).value).toEqual({ a: 1 });
      await expect(k.config("big", z.unknown())).rejects.toMatchObject({
        code: "CONFIG_NOT_FOUND",
      });
      expect(log.lines.join("\n")).toMatch(/sized\/big\.json not applied: .*the limit is 100/);
    } finally {
      await k.close();
    }
  });

  it("refuses a missing config folder with a clear error", async () => {
    const k = await Konorkestra.connect({
      group: "nope",
      nodeId: "dev",
      configSource: `file:${root}`,
      logger: recordingLogger(),
    });
    try {
      await expect(k.config("x", Db)).rejects.toMatchObject({ code: "CONFIG_UNAVAILABLE" });
      await expect(k.config("x", Db)).rejects.toThrow(/nope does not exist/);
    } finally {
      await k.close();
    }
  });
});
