import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, rmSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { ConfigEntry } from "@konorkestra/proto";
import { Harness, passes, put, text, waitFor } from "./loader-harness";

const sha = (s: string | Uint8Array): string => createHash("sha256").update(s).digest("hex");

describe("config-loader publishes the folder", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("publishes JSON and YAML with complete ConfigEntry fields; nested folders make dotted keys", async () => {
    const root = h.tempDir();
    put(root, "pub1/app.json", '{ "name": "shop",\n  "port": 8080 }\n');
    put(root, "pub1/service1/db.yaml", "host: db.local\nport: 5432\npool:\n  max: 10\n");
    const before = Date.now();
    const { loader } = await h.loader(root);

    const all = await h.entries("pub1");
    expect([...all.keys()].sort()).toEqual(["app", "service1.db"]);
    const app = all.get("app")!.entry;
    expect(text(app)).toBe('{"name":"shop","port":8080}');
    expect(app.sha256).toBe(sha(app.payload));
    expect(app).toMatchObject({
      contentType: "application/json",
      sourceFormat: ConfigEntry.SourceFormat.JSON,
      sourcePath: "pub1/app.json",
      key: "app",
      publishedBy: "test-loader",
      gitCommit: "",
      changeSetSize: 2,
    });
    expect(app.updatedAtMs).toBeGreaterThanOrEqual(before);
    const db = all.get("service1.db")!.entry;
    expect(JSON.parse(text(db))).toEqual({ host: "db.local", port: 5432, pool: { max: 10 } });
    expect(db).toMatchObject({
      sourceFormat: ConfigEntry.SourceFormat.YAML,
      sourcePath: "pub1/service1/db.yaml",
      key: "service1.db",
      changeSetId: app.changeSetId,
    });
    expect(app.changeSetId).not.toBe("");

    // A later edit of one file is a change set of its own, of size 1, with matching headers.
    put(root, "pub1/app.json", '{"name": "shop", "port": 9090}');
    const updated = await waitFor(async () => {
      const e = (await h.entries("pub1")).get("app");
      return e && text(e.entry).includes("9090") ? e : undefined;
    }, "edited app.json published");
    expect(updated.entry.changeSetSize).toBe(1);
    expect(updated.entry.changeSetId).not.toBe(app.changeSetId);
    const msg = await h.message("pub1", updated.revision);
    expect(msg.header.get("Kon-Change-Set")).toBe(updated.entry.changeSetId);
    expect(msg.header.get("Kon-Change-Set-Size")).toBe("1");
    expect(loader.health().ok).toBe(true);
  });

  it("does not republish unchanged content (touch, reformatting, refresh)", async () => {
    const root = h.tempDir();
    const file = put(root, "same1/app.json", '{"a": 1, "b": [1, 2]}');
    const { loader } = await h.loader(root);
    const rev = (await h.entries("same1")).get("app")!.revision;
    const last = await h.lastSeq("same1");

    const p0 = await passes(loader, "partial");
    const t = new Date(Date.now() + 5000);
    utimesSync(file, t, t);
    await waitFor(
      async () => ((await passes(loader, "partial")) > p0 ? true : undefined),
      "touch seen",
    );
    const p1 = await passes(loader, "partial");
    put(root, "same1/app.json", '{\n  "b": [1, 2],\n  "a": 1\n}\n');
    await waitFor(
      async () => ((await passes(loader, "partial")) > p1 ? true : undefined),
      "rewrite seen",
    );
    const report = await loader.reconcile("full");

    expect(report.ok).toBe(true);
    expect(report.groups.find((g) => g.group === "same1")).toMatchObject({
      changeSets: [],
      unchanged: 1,
    });
    expect((await h.entries("same1")).get("app")!.revision).toBe(rev);
    expect(await h.lastSeq("same1")).toBe(last);
  });

  it("reconciles on start: publishes differences, deletes keys whose file is gone (or keeps them with keepDeleted)", async () => {
    const root = h.tempDir();
    put(root, "start1/a.json", '{"v": 1}');
    put(root, "start1/b.json", '{"v": 1}');
    put(root, "start1/same.json", '{"v": 1}');
    const first = await h.loader(root);
    await first.loader.stop();
    const sameRev = (await h.entries("start1")).get("same")!.revision;

    put(root, "start1/a.json", '{"v": 2}');
    rmSync(join(root, "start1/b.json"));
    put(root, "start1/c.yaml", "v: 3\n");
    const second = await h.loader(root);
    const all = await h.entries("start1");
    expect([...all.keys()].sort()).toEqual(["a", "c", "same"]);
    expect(text(all.get("a")!.entry)).toBe('{"v":2}');
    expect(all.get("same")!.revision).toBe(sameRev);
    const set = all.get("a")!.entry;
    expect(set.changeSetSize).toBe(3); // a and c put, b deleted: one change set
    expect(all.get("c")!.entry.changeSetId).toBe(set.changeSetId);
    const deleted = await h.events("start1", "deleted");
    expect(deleted.map((e) => [e.key, e.changeSetId])).toEqual([["b", set.changeSetId]]);
    await second.loader.stop();

    rmSync(join(root, "start1/c.yaml"));
    const third = await h.loader(root, { keepDeleted: true });
    expect([...(await h.entries("start1")).keys()].sort()).toEqual(["a", "c", "same"]);
    const report = await third.loader.reconcile("full");
    expect(report.groups[0]).toMatchObject({ group: "start1", kept: ["c"], changeSets: [] });
  });

  it("deletes a key when its file is deleted, with a delete message carrying the change-set headers", async () => {
    const root = h.tempDir();
    put(root, "del1/keep.json", "{}");
    put(root, "del1/gone.json", '{"x": true}');
    await h.loader(root);
    expect((await h.entries("del1")).has("gone")).toBe(true);

    rmSync(join(root, "del1/gone.json"));
    await waitFor(
      async () => ((await h.entries("del1")).has("gone") ? undefined : true),
      "key deleted",
    );
    const msg = await h.message("del1", await h.lastSeq("del1"));
    expect(msg.subject).toBe("$KV.cfg_del1.gone");
    expect(msg.header.get("KV-Operation")).toBe("DEL");
    expect(msg.header.get("Kon-Change-Set-Size")).toBe("1");
    expect(msg.header.get("Kon-Change-Set")).not.toBe("");
    expect((await h.entries("del1")).has("keep")).toBe(true);
    const events = await h.events("del1", "deleted");
    expect(events.map((e) => [e.key, Number(e.revision)])).toEqual([["gone", msg.seq]]);
  });

  it("creates the bucket of a new group folder on first use", async () => {
    const root = h.tempDir();
    put(root, "old1/a.json", "{}");
    await h.loader(root);
    expect(await h.bucketExists("newgroup1")).toBe(false);

    mkdirSync(join(root, "newgroup1/sub"), { recursive: true });
    put(root, "newgroup1/sub/x.yaml", "enabled: true\n");
    const e = await waitFor(
      async () => (await h.entries("newgroup1").catch(() => undefined))?.get("sub.x"),
      "new group published",
    );
    expect(text(e.entry)).toBe('{"enabled":true}');
    expect(await h.bucketExists("newgroup1")).toBe(true);
  });

  it("records git commit and author in a git work tree, and none for uncommitted changes", async () => {
    const root = h.tempDir();
    const git = (...args: string[]): string =>
      execFileSync(
        "git",
        ["-C", root, "-c", "user.name=Ann Example", "-c", "user.email=ann@example.com", ...args],
        {
          encoding: "utf8",
        },
      ).trim();
    git("init", "-q");
    put(root, "git1/app.yaml", "v: 1\n");
    put(root, "git1/other.json", '{"o": 1}');
    git("add", ".");
    git("commit", "-q", "-m", "first");
    const head = git("rev-parse", "HEAD");
    const { loader } = await h.loader(root, { git: true });

    const app = (await h.entries("git1")).get("app")!.entry;
    expect(app.gitCommit).toBe(head);
    expect(app.gitAuthor).toBe("Ann Example <ann@example.com>");

    put(root, "git1/app.yaml", "v: 2\n"); // not committed: no commit holds this content
    const dirty = await waitFor(async () => {
      const e = (await h.entries("git1")).get("app");
      return e && text(e.entry) === '{"v":2}' ? e.entry : undefined;
    }, "uncommitted edit published");
    expect(dirty.gitCommit).toBe("");
    expect(loader.health().ok).toBe(true);
    await loader.stop();

    // Committed while no loader ran: the start-up reconcile publishes it with its commit.
    put(root, "git1/other.json", '{"o": 2}');
    git("commit", "-q", "-am", "second");
    const head2 = git("rev-parse", "HEAD");
    await h.loader(root, { git: true });
    const other = (await h.entries("git1")).get("other")!.entry;
    expect(text(other)).toBe('{"o":2}');
    expect(other.gitCommit).toBe(head2);
    expect(other.gitAuthor).toBe("Ann Example <ann@example.com>");
  });
});
