// Issue 11 (items 1, 3, 8, 11) and issue 10 item 5, against a real nats-server and real folders:
// each hostile or awkward input is answered for itself, and the rest of the group keeps moving.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { Kvm } from "@nats-io/kv";
import { z } from "zod";
import { ConfigEntry, encodeMessage } from "@konorkestra/proto";
import { Konorkestra, silentLogger } from "../../sdk/src";
import { registerConfigSchema } from "../../sdk/src/config/schema-registration";
import type { ConfigLoader } from "../src/config-loader";
import { Harness, names, passes, put, text, waitFor } from "./loader-harness";

const sha = (s: string | Uint8Array): string => createHash("sha256").update(s).digest("hex");

async function metric(loader: ConfigLoader, name: string, labels: Record<string, string> = {}) {
  const values = (await loader.metricsRegistry.getSingleMetric(name)?.get())?.values ?? [];
  return values
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((n, v) => n + v.value, 0);
}

describe("config-loader hardening", () => {
  let h: Harness;
  let root: string;
  let loader: ConfigLoader;
  let logs: string[];

  beforeAll(async () => {
    h = await Harness.start();
    root = h.tempDir();
    put(root, "deep/ok.json", '{"v": 1}');
    put(root, "links/real.yaml", "v: real\n");
    put(root, "usab/base.yaml", "v: 1\n");
    put(root, "forge/a.json", '{"v": "true value"}');
    put(root, "xshop/checkout.json", '{"secret": "shop only"}');
    put(root, "xdemo/own.json", '{"v": 1}');
    put(root, "shape/obj.json", '{"v": 1}');
    ({ loader, logs } = await h.loader(root));
  });
  afterAll(async () => {
    await h?.stop();
  });

  async function rejected(group: string, sourcePath: string) {
    return waitFor(async () => {
      const all = await h.events(group, "rejected");
      return all.find((e) => e.sourcePath === sourcePath);
    }, `config.rejected for ${sourcePath}`);
  }

  async function valueOf(group: string, key: string): Promise<unknown> {
    const e = (await h.entries(group)).get(key);
    return e ? JSON.parse(text(e.entry)) : undefined;
  }

  it("item 1: a JSON file nested 10,000 deep is refused alone; the group keeps publishing", async () => {
    const before = await metric(loader, "kon_loader_files_rejected_total", { reason: "syntax" });
    put(root, "deep/bomb.json", '{"a":'.repeat(10_000) + "1" + "}".repeat(10_000));
    const ev = await rejected("deep", "deep/bomb.json");
    expect(ev.error).toMatchObject({ code: "syntax", line: 1 });
    expect(ev.error?.reason).toMatch(/nested more than 256 levels deep/);
    expect(await metric(loader, "kon_loader_files_rejected_total", { reason: "syntax" })).toBe(
      before + 1,
    );
    put(root, "deep/ok.json", '{"v": 2}');
    await waitFor(
      async () =>
        ((await valueOf("deep", "ok")) as { v: number } | undefined)?.v === 2 || undefined,
      "ok.json v2",
    );
    expect(loader.health().ok).toBe(true);
    expect((await loader.reconcile("full")).ok).toBe(true);
  });

  it("item 3: links out of the config root are refused; links within it work", async () => {
    const outside = h.tempDir();
    put(outside, "hostname.yaml", "secret: host file\n");
    put(outside, "dir/a.yaml", "secret: folder file\n");
    symlinkSync(join(outside, "hostname.yaml"), join(root, "links/x.yaml"));
    symlinkSync(join(outside, "dir"), join(root, "links/ext"));
    symlinkSync(join(root, "links/real.yaml"), join(root, "links/alias.yaml"));
    const file = await rejected("links", "links/x.yaml");
    expect(file.error?.code).toBe("io");
    expect(file.error?.reason).toMatch(/symbolic link leads outside the config root/);
    const folder = await rejected("links", "links/ext/");
    expect(folder.error?.reason).toMatch(/outside the config root/);
    await waitFor(async () => ((await valueOf("links", "alias")) ? true : undefined), "alias");
    const entries = await h.entries("links");
    expect([...entries.keys()].sort()).toEqual(["alias", "real"]);
    expect(await valueOf("links", "alias")).toEqual({ v: "real" });
  });

  it("H5: a link into another group's folder is refused like a link out of the root", async () => {
    symlinkSync("../xshop/checkout.json", join(root, "xdemo/cross.json"));
    symlinkSync("../xshop", join(root, "xdemo/shopdir"));
    const file = await rejected("xdemo", "xdemo/cross.json");
    expect(file.error?.code).toBe("io");
    expect(file.key).toBe("cross");
    expect(file.error?.reason).toMatch(/symbolic link leads outside its group's folder/);
    const folder = await rejected("xdemo", "xdemo/shopdir/");
    expect(folder.error?.code).toBe("io");
    expect((await loader.reconcile("full")).ok).toBe(true);
    expect([...(await h.entries("xdemo")).keys()]).toEqual(["own"]);
    expect([...(await h.entries("xshop")).keys()]).toEqual(["checkout"]);
  });

  it("H6: a top level that is an array, a scalar or null is published, and the SDK reads it", async () => {
    // docs/wire-contract.md §3.1: the top level may be any JSON value. One rule on every path:
    // the loader publishes it, the SDK reads it from NATS and from a `file:` folder alike.
    put(root, "shape/obj.json", "[1, 2, 3]");
    put(root, "shape/scalar.yaml", "42\n");
    put(root, "shape/nul.yaml", "null\n");
    put(root, "shape/flags.yaml", "- fast\n- safe\n");
    put(root, "shape/str.json", '"str"');
    const want: Record<string, unknown> = {
      obj: [1, 2, 3],
      scalar: 42,
      nul: null,
      flags: ["fast", "safe"],
      str: "str",
    };
    expect(await valueOf("shape", "obj")).toEqual({ v: 1 });
    await waitFor(async () => {
      const e = await h.entries("shape");
      const all = Object.keys(want).every((k) => e.has(k));
      return (all && Array.isArray(await valueOf("shape", "obj"))) || undefined;
    }, "shape published");
    for (const [k, v] of Object.entries(want)) expect(await valueOf("shape", k)).toEqual(v);
    expect(await h.events("shape", "rejected")).toEqual([]);
    const schemas = {
      obj: z.array(z.number()),
      scalar: z.number(),
      nul: z.null(),
      flags: z.array(z.string()),
      str: z.string(),
    };
    const snapshotDir = h.tempDir();
    for (const options of [
      { ...h.nats.clientOptions(), snapshotDir },
      { servers: "nats://127.0.0.1:1", configSource: `file:${root}` },
    ]) {
      const kon = await Konorkestra.connect({
        ...options,
        group: "shape",
        nodeId: "reader",
        logger: silentLogger,
      });
      try {
        for (const [k, schema] of Object.entries(schemas)) {
          expect((await kon.config(k, schema as z.ZodType)).value).toEqual(want[k]);
        }
      } finally {
        await kon.close();
      }
    }
  });

  it("item 8: merge keys, duplicate keys in JSON, one document per file, comment-only YAML", async () => {
    put(root, "usab/merged.yaml", "base: &b\n  host: db\n  port: 1\nsvc:\n  <<: *b\n  port: 2\n");
    put(root, "usab/dup.json", '{\n  "a": 1,\n  "a": 2\n}\n');
    put(root, "usab/multi.yaml", "a: 1\n---\nb: 2\n");
    put(root, "usab/empty.yaml", "# nothing here yet\n");
    await waitFor(async () => ((await valueOf("usab", "merged")) ? true : undefined), "merged");
    expect(await valueOf("usab", "merged")).toEqual({
      base: { host: "db", port: 1 },
      svc: { host: "db", port: 2 },
    });
    const dup = await rejected("usab", "usab/dup.json");
    expect(dup.error).toMatchObject({ code: "syntax", line: 3, column: 3 });
    expect(dup.error?.reason).toMatch(/key "a" appears 2 times in one object \(lines 2, 3\)/);
    const multi = await rejected("usab", "usab/multi.yaml");
    expect(multi.error?.reason).toMatch(/one document per file/);
    const empty = await rejected("usab", "usab/empty.yaml");
    expect(empty.error?.reason).toMatch(/no value, only comments/);
    const keys = [...(await h.entries("usab")).keys()].sort();
    expect(keys).toEqual(["base", "merged"]);
  });

  it("item 8: a misnamed group folder is a rejection with an event and a metric at once", async () => {
    const before = await metric(loader, "kon_loader_files_rejected_total", { reason: "name" });
    const full = await passes(loader, "full");
    put(root, "Payments/service1.yaml", "x: 1\n");
    const ev = await rejected("payments", "Payments/");
    expect(ev.error?.code).toBe("name");
    expect(ev.error?.reason).toMatch(
      /folder "Payments" is not a valid group name.*rename it to "payments"/,
    );
    expect(await metric(loader, "kon_loader_files_rejected_total", { reason: "name" })).toBe(
      before + 1,
    );
    expect(await passes(loader, "full")).toBe(full); // seen by the partial pass, not a resync
    expect(logs.filter((l) => l.includes("rejected Payments/"))).toHaveLength(1);
  });

  it("issue 10 item 5: a stored entry whose sha256 is not its payload's is republished", async () => {
    const truth = await valueOf("forge", "a");
    expect(truth).toEqual({ v: "true value" });
    const kv = await new Kvm(h.nc).open(names.configBucket("forge"));
    const stored = (await h.entries("forge")).get("a")!.entry;
    // Claims the true value's sha256 over a different payload.
    const forged = encodeMessage(ConfigEntry, {
      ...stored,
      payload: Buffer.from('{"v":"forged"}'),
      sha256: stored.sha256,
    });
    await kv.put("a", forged);
    expect(await valueOf("forge", "a")).toEqual({ v: "forged" });
    expect((await loader.reconcile("full")).ok).toBe(true);
    const now = (await h.entries("forge")).get("a")!.entry;
    expect(JSON.parse(text(now))).toEqual({ v: "true value" });
    expect(now.sha256).toBe(sha(now.payload));
    expect(await metric(loader, "kon_loader_forged_entries_total")).toBe(1);
    expect(
      logs.some((l) => /key a revision \d+ claims a sha256 that is not its payload's/.test(l)),
    ).toBe(true);
  });

  it("item 11: every live schema of a key is checked, and the refusal names which one", async () => {
    const G = "schemas";
    const regs = [
      { service: "narrow", schema: z.object({ port: z.number().int().max(1000) }) },
      { service: "wide", schema: z.object({ port: z.number() }) },
    ];
    for (const r of regs) {
      await registerConfigSchema(h.nc, names, { group: G, key: "db", nodeId: "n1", ...r });
    }
    put(root, `${G}/db.json`, '{"port": 5000}');
    const ev = await rejected(G, `${G}/db.json`);
    expect(ev.error?.code).toBe("schema");
    expect(ev.error?.reason).toMatch(
      /^does not match the schema registered by narrow \(schema [0-9a-f]{12}\): \/port/,
    );
    expect(ev.error?.reason).not.toMatch(/registered by wide/);
    put(root, `${G}/db.json`, '{"port": 500}');
    await waitFor(async () => ((await valueOf(G, "db")) ? true : undefined), "db published");
    const entry = (await h.entries(G)).get("db")!.entry;
    expect(entry.schemaId.split(",")).toHaveLength(2);
  });
});

describe("config-loader provenance", () => {
  let h: Harness;
  afterAll(async () => {
    await h?.stop();
  });

  it("item 8: git_commit follows a commit that changed no content", async () => {
    h = await Harness.start();
    const root = h.tempDir();
    const git = (...args: string[]) =>
      execFileSync("git", ["-C", root, ...args], { encoding: "utf8" }).trim();
    git("init", "-q");
    git("config", "user.email", "a@example.test");
    git("config", "user.name", "A");
    put(root, "prov/first.yaml", "v: 1\n");
    git("add", "-A");
    git("commit", "-q", "-m", "first");
    mkdirSync(join(root, "prov"), { recursive: true });
    put(root, "prov/svc.yaml", "v: draft\n");
    const { loader } = await h.loader(root, { git: true });
    const before = (await h.entries("prov")).get("svc")!;
    expect(before.entry.gitCommit).toBe(""); // uncommitted: no commit holds it
    git("add", "-A");
    git("commit", "-q", "-m", "second");
    const head = git("rev-parse", "HEAD");
    expect((await loader.reconcile("full")).ok).toBe(true);
    const after = (await h.entries("prov")).get("svc")!;
    expect(after.entry.gitCommit).toBe(head);
    expect(after.entry.sha256).toBe(before.entry.sha256);
    expect(after.revision).toBeGreaterThan(before.revision);
  });
});
