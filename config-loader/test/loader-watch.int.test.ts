import { renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Kvm } from "@nats-io/kv";
import type { KvWatchEntry } from "@nats-io/kv";
import { ConfigEntry, decodeMessage } from "@konorkestra/proto";
import { Harness, names, passes, put, text, waitFor } from "./loader-harness";

describe("config-loader follows the folder", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("publishes an editor's atomic save (temp file + rename) once, with the final content", async () => {
    const root = h.tempDir();
    put(root, "atomic1/app.json", '{"v": 1}');
    const { loader } = await h.loader(root);
    const before = await h.lastSeq("atomic1");
    const p0 = await passes(loader, "partial");

    // What vim, VS Code and most tools do: write a hidden temp file, then rename it over the file.
    put(root, "atomic1/.app.json.tmp-123", '{"v": 2}');
    renameSync(join(root, "atomic1/.app.json.tmp-123"), join(root, "atomic1/app.json"));

    const e = await waitFor(async () => {
      const x = (await h.entries("atomic1")).get("app");
      return x && text(x.entry) === '{"v":2}' ? x : undefined;
    }, "atomic save published");
    await waitFor(
      async () => ((await passes(loader, "partial")) > p0 ? true : undefined),
      "pass done",
    );
    expect(e.revision).toBe(before + 1);
    expect(await h.lastSeq("atomic1")).toBe(before + 1);
    expect(e.entry.changeSetSize).toBe(1);
  });

  it("debounces a burst of saves to one file: the last content wins, with few publishes", async () => {
    const root = h.tempDir();
    const file = put(root, "burst1/app.json", '{"n": 0}');
    await h.loader(root, { debounceMs: 100, debounceMaxMs: 2000 });
    const before = await h.lastSeq("burst1");

    for (let n = 1; n <= 20; n++) writeFileSync(file, `{"n": ${n}}`);

    const e = await waitFor(async () => {
      const x = (await h.entries("burst1")).get("app");
      return x && text(x.entry) === '{"n":20}' ? x : undefined;
    }, "last save published");
    // Give a straggling window time to close, then count what was written.
    await new Promise((r) => setTimeout(r, 300));
    const written = (await h.lastSeq("burst1")) - before;
    expect(written).toBeGreaterThanOrEqual(1);
    expect(written).toBeLessThanOrEqual(3);
    expect(text((await h.entries("burst1")).get("app")!.entry)).toBe('{"n":20}');
    expect(e.entry.sourcePath).toBe("burst1/app.json");
  });

  it("publishes a git-sync symlink flip as one atomic change set that watchers see whole", async () => {
    const base = h.tempDir();
    put(base, "rev-a/flip1/a.json", '{"v": "a1"}');
    put(base, "rev-a/flip1/b.yaml", "v: b1\n");
    put(base, "rev-a/flip1/c.json", '{"v": "c1"}');
    put(base, "rev-a/flip1/d.json", '{"v": "d1"}');
    put(base, "rev-b/flip1/a.json", '{"v": "a2"}'); // changed
    put(base, "rev-b/flip1/b.yaml", "v: b2\n"); // changed
    put(base, "rev-b/flip1/c.json", '{"v": "c1"}'); // unchanged
    put(base, "rev-b/flip1/e.json", '{"v": "e1"}'); // new; d.json removed
    symlinkSync("rev-a", join(base, "current"));
    await h.loader(join(base, "current"));
    expect([...(await h.entries("flip1")).keys()].sort()).toEqual(["a", "b", "c", "d"]);
    const before = await h.lastSeq("flip1");

    const kv = await new Kvm(h.nc).open(names.configBucket("flip1"));
    const watch = await kv.watch({ resumeFromRevision: before + 1 });
    const seen: KvWatchEntry[] = [];
    const done = (async () => {
      for await (const e of watch) {
        seen.push(e);
        if (seen.length === 4) break;
      }
    })();

    // git-sync's flip: a new link renamed over the old one (atomic).
    symlinkSync("rev-b", join(base, "current.tmp"));
    renameSync(join(base, "current.tmp"), join(base, "current"));

    await waitFor(() => (seen.length >= 4 ? true : undefined), "watcher saw 4 changes");
    await done;
    expect(await h.lastSeq("flip1")).toBe(before + 4);
    const msgs = await Promise.all([1, 2, 3, 4].map((i) => h.message("flip1", before + i)));
    const ids = new Set(msgs.map((m) => m.header.get("Kon-Change-Set")));
    expect(ids.size).toBe(1);
    expect(msgs.map((m) => m.header.get("Kon-Change-Set-Size"))).toEqual(["4", "4", "4", "4"]);
    expect(
      msgs
        .map((m) => m.header.get("Nats-Batch-Id"))
        .every((b) => b && b === msgs[0]!.header.get("Nats-Batch-Id")),
    ).toBe(true);
    expect(seen.map((e) => [e.key, e.operation, e.revision])).toEqual([
      ["a", "PUT", before + 1],
      ["b", "PUT", before + 2],
      ["e", "PUT", before + 3],
      ["d", "DEL", before + 4],
    ]);
    const a = decodeMessage(ConfigEntry, seen[0]!.value);
    expect(a).toMatchObject({ changeSetSize: 4, sourcePath: "flip1/a.json" });
    expect(a.changeSetId).toBe([...ids][0]);
    const all = await h.entries("flip1");
    expect(text(all.get("a")!.entry)).toBe('{"v":"a2"}');
    expect(text(all.get("c")!.entry)).toBe('{"v":"c1"}');
    expect(all.has("d")).toBe(false);
    const published = await h.events("flip1", "published");
    expect(published.filter((e) => e.changeSetId === a.changeSetId).map((e) => e.key)).toEqual([
      "a",
      "b",
      "e",
    ]);

    // The watch moved with the link: an edit in the new revision is published.
    put(base, "rev-b/flip1/c.json", '{"v": "c2"}');
    await waitFor(async () => {
      const c = (await h.entries("flip1")).get("c");
      return c && text(c.entry) === '{"v":"c2"}' ? true : undefined;
    }, "edit in rev-b published");
  });

  it("writes 1,000 changed keys as one atomic batch, and more as several complete change sets", async () => {
    const root = h.tempDir();
    for (let i = 0; i < 1000; i++) put(root, `big1/k${i}.json`, `{"i": ${i}}`);
    for (let i = 0; i < 1001; i++) put(root, `big2/k${i}.json`, `{"i": ${i}}`);
    const { loader, logs } = await h.loader(root);
    const report = await loader.reconcile("full"); // nothing left to do
    expect(report.groups.map((g) => [g.group, g.unchanged, g.changeSets.length])).toEqual([
      ["big1", 1000, 0],
      ["big2", 1001, 0],
    ]);

    expect(await h.lastSeq("big1")).toBe(1000);
    const first = await h.message("big1", 1);
    const last = await h.message("big1", 1000);
    expect(first.header.get("Kon-Change-Set-Size")).toBe("1000");
    expect(last.header.get("Kon-Change-Set")).toBe(first.header.get("Kon-Change-Set"));
    expect(last.header.get("Nats-Batch-Id")).toBe(first.header.get("Nats-Batch-Id"));
    expect(last.header.get("Nats-Batch-Commit")).toBe("1");

    const e0 = await h.message("big2", 1);
    const e1000 = await h.message("big2", 1000);
    const e1001 = await h.message("big2", 1001);
    const id = e0.header.get("Kon-Change-Set");
    expect(id).toMatch(/\.1of2$/);
    expect(e1000.header.get("Kon-Change-Set")).toBe(id);
    expect(e0.header.get("Kon-Change-Set-Size")).toBe("1000");
    expect(e1001.header.get("Kon-Change-Set")).toBe(id.replace(/1of2$/, "2of2"));
    expect(e1001.header.get("Kon-Change-Set-Size")).toBe("1");
    expect(
      logs.some((l) =>
        /big2: 1001 changes exceed one atomic batch; written as 2 change sets/.test(l),
      ),
    ).toBe(true);
  });

  it("follows a group folder that is itself a flipped symlink, and deletes the keys of a removed group", async () => {
    const base = h.tempDir();
    put(base, "store/v1/glink1/a.json", '{"v": 1}');
    put(base, "store/v2/glink1/a.json", '{"v": 2}');
    put(base, "store/v2/glink1/b.json", '{"v": 2}');
    put(base, "root/gone1/x.json", "{}");
    symlinkSync("../store/v1/glink1", join(base, "root/glink1"));
    await h.loader(join(base, "root"));
    expect([...(await h.entries("glink1")).keys()]).toEqual(["a"]);

    symlinkSync("../store/v2/glink1", join(base, "root/.glink1.tmp"));
    renameSync(join(base, "root/.glink1.tmp"), join(base, "root/glink1"));
    const all = await waitFor(async () => {
      const x = await h.entries("glink1");
      return x.has("b") ? x : undefined;
    }, "flipped group published");
    expect(text(all.get("a")!.entry)).toBe('{"v":2}');
    expect(all.get("a")!.entry.changeSetId).toBe(all.get("b")!.entry.changeSetId);
    expect(all.get("a")!.entry.sourcePath).toBe("glink1/a.json");
    // Edits inside the new target are seen too.
    put(base, "store/v2/glink1/b.json", '{"v": 3}');
    await waitFor(async () => {
      const b = (await h.entries("glink1")).get("b");
      return b && text(b.entry) === '{"v":3}' ? true : undefined;
    }, "edit in the new target published");

    rmSync(join(base, "root/gone1"), { recursive: true });
    await waitFor(
      async () => ((await h.entries("gone1")).size === 0 ? true : undefined),
      "removed group emptied",
    );
  });
});
