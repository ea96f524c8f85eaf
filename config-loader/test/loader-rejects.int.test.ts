import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { renameSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { ConfigEvent } from "@konorkestra/proto";
import type { ConfigLoader } from "../src/config-loader";
import { Harness, passes, put, text, waitFor } from "./loader-harness";

const sha = (s: string | Uint8Array): string => createHash("sha256").update(s).digest("hex");

describe("config-loader refuses bad input and loses nothing", () => {
  let h: Harness;
  let root: string;
  let loader: ConfigLoader;
  let logs: string[];
  const G = "rej1";

  beforeAll(async () => {
    h = await Harness.start();
    root = h.tempDir();
    for (const k of ["json", "yaml", "big", "bytes", "schema", "fifo", "link"]) {
      put(root, `${G}/${k}.${k === "yaml" ? "yaml" : "json"}`, `{"good": "${k}"}`);
    }
    ({ loader, logs } = await h.loader(root, { maxValueBytes: 4096 }));
  });
  afterAll(async () => {
    await h?.stop();
  });

  /** Waits for the rejected event of `file`, then checks the key kept its value. */
  async function expectRejected(file: string, key: string): Promise<ConfigEvent> {
    const events = await waitFor(async () => {
      const all = (await h.events(G, "rejected")).filter((e) => e.sourcePath === `${G}/${file}`);
      return all.length > 0 ? all : undefined;
    }, `config.rejected for ${file}`);
    expect(events).toHaveLength(1);
    const ev = events[0]!;
    expect(ev).toMatchObject({ group: G, key, sourcePath: `${G}/${file}`, nodeId: "" });
    expect(ev.error?.file).toBe(`${G}/${file}`);
    if (key) {
      const kept = (await h.entries(G)).get(key);
      expect(kept && JSON.parse(text(kept.entry))).toEqual({ good: key });
    }
    return ev;
  }

  /** A full reconcile (what a retry, resync or refresh does) and one more save of the same bytes. */
  async function retryAndResave(file: string, content: string | Uint8Array): Promise<void> {
    expect((await loader.reconcile("full")).ok).toBe(true);
    const p0 = await passes(loader, "partial");
    put(root, `${G}/${file}`, content);
    await waitFor(
      async () => ((await passes(loader, "partial")) > p0 ? true : undefined),
      "resave seen",
    );
    const events = (await h.events(G, "rejected")).filter((e) => e.sourcePath === `${G}/${file}`);
    expect(events).toHaveLength(1);
    expect(
      logs.filter((l) => l.startsWith(`warn [config-loader] rejected ${G}/${file}:`)),
    ).toHaveLength(1);
  }

  it("JSON syntax error: file:line:column, previous value kept, one event however often it is read", async () => {
    const bad = '{\n  "good": "json",\n  "port": \n}\n';
    put(root, `${G}/json.json`, bad);
    const ev = await expectRejected("json.json", "json");
    expect(ev.error).toMatchObject({ line: 4, column: 1, code: "syntax" });
    expect(ev.error?.reason).toMatch(/^invalid JSON: unexpected "}", expected a value/);
    expect(ev.sha256).toBe(sha(bad));
    expect(Number(ev.revision)).toBe(0);
    await retryAndResave("json.json", bad);
    expect(logs).toContainEqual(
      expect.stringMatching(/rejected rej1\/json\.json:4:1: invalid JSON/),
    );
  });

  it("YAML syntax error: file:line:column", async () => {
    const bad = "good: yaml\nlist: [1, 2\nnext: 3\n";
    put(root, `${G}/yaml.yaml`, bad);
    const ev = await expectRejected("yaml.yaml", "yaml");
    expect(ev.error).toMatchObject({ line: 2, column: 7, code: "syntax" });
    expect(ev.error?.reason).toBe("invalid YAML: this '[' is never closed");
    await retryAndResave("yaml.yaml", bad);
  });

  it("a file over the size limit", async () => {
    const bad = JSON.stringify({ good: "x".repeat(5000) });
    put(root, `${G}/big.json`, bad);
    const ev = await expectRejected("big.json", "big");
    expect(ev.error).toMatchObject({ code: "size" });
    expect(ev.error?.reason).toMatch(/file is 5\d{3} bytes; the limit is 4096/);
    await retryAndResave("big.json", bad);
  });

  it("bytes that are not UTF-8", async () => {
    const bad = Buffer.concat([Buffer.from('{"good": "caf'), Buffer.from([0xe9, 0x22, 0x7d])]);
    put(root, `${G}/bytes.json`, bad);
    const ev = await expectRejected("bytes.json", "bytes");
    expect(ev.error).toMatchObject({ code: "encoding", line: 1, column: 14 });
    expect(ev.error?.reason).toMatch(/not UTF-8: invalid byte 0xe9 at offset 13/);
    await retryAndResave("bytes.json", bad);
  });

  it("a file name that is not a valid key", async () => {
    put(root, `${G}/my service.json`, '{"a": 1}');
    const ev = await expectRejected("my service.json", "");
    expect(ev.error).toMatchObject({ code: "name" });
    expect(ev.error?.reason).toMatch(/file name "my service" is not a valid key segment/);
    await retryAndResave("my service.json", '{"a": 1}');
    expect([...(await h.entries(G)).keys()]).not.toContain("my service");
  });

  it("a value that violates the schema its service registered", async () => {
    const schema = z.toJSONSchema(
      z.object({ good: z.string(), port: z.number().int().max(65535).optional() }),
      { io: "input" },
    ) as Record<string, unknown>;
    await h.registerSchema(G, "schema", schema);
    const bad = '{\n  "good": "schema",\n  "port": 70000\n}\n';
    put(root, `${G}/schema.json`, bad);
    const ev = await expectRejected("schema.json", "schema");
    expect(ev.error).toMatchObject({ code: "schema", line: 3, column: 11, valuePath: "/port" });
    expect(ev.error?.reason).toMatch(/registered by svc-test: \/port must be <= 65535/);
    await retryAndResave("schema.json", bad);

    // A conforming value is published and carries the schema's identity.
    put(root, `${G}/schema.json`, '{"good": "schema", "port": 8080}');
    const e = await waitFor(async () => {
      const x = (await h.entries(G)).get("schema");
      return x && text(x.entry).includes("8080") ? x.entry : undefined;
    }, "valid value published");
    expect(e.schemaId).toMatch(/^[0-9a-f]{64}$/);
    expect(e.schemaVersion).toBeGreaterThan(0);
  });

  it("a FIFO and a broken symlink (unreadable files) are refused without blocking", async () => {
    // Swapped in by rename, so no pass can see the key without a file in between.
    execFileSync("mkfifo", [join(root, G, ".fifo.tmp")]);
    renameSync(join(root, G, ".fifo.tmp"), join(root, G, "fifo.json"));
    const ev = await expectRejected("fifo.json", "fifo");
    expect(ev.error).toMatchObject({ code: "io", reason: "not a regular file" });

    symlinkSync(join(root, "nowhere.json"), join(root, G, ".link.tmp"));
    renameSync(join(root, G, ".link.tmp"), join(root, G, "link.json"));
    const ev2 = await expectRejected("link.json", "link");
    expect(ev2.error?.reason).toMatch(/broken symbolic link/);
  });

  it("keeps running: healthy, still publishing, and a fixed file is published normally", async () => {
    expect(loader.health()).toMatchObject({ ok: true, connected: true, lastReconcileOk: true });
    put(root, `${G}/json.json`, '{"good": "json", "fixed": true}');
    await waitFor(async () => {
      const x = (await h.entries(G)).get("json");
      return x && text(x.entry).includes("fixed") ? true : undefined;
    }, "fixed file published");
    // Breaking it again the same way is news again (the key moved on): a second event.
    put(root, `${G}/json.json`, '{\n  "good": "json",\n  "port": \n}\n');
    await waitFor(async () => {
      const n = (await h.events(G, "rejected")).filter(
        (e) => e.sourcePath === `${G}/json.json`,
      ).length;
      return n === 2 ? true : undefined;
    }, "second rejection of json.json");
    const text2 = await (await fetch(`${loader.url}/metrics`)).text();
    expect(text2).toMatch(/kon_loader_files_rejected_total\{reason="syntax"\} [3-9]/);
    expect(text2).toMatch(/kon_loader_files_rejected_total\{reason="schema"\} 1/);
  });
});
