// N3 (session 8): content the loader published before any commit held it is credited, once a
// commit holds it, to the commit that brought that content in, not to whichever later commit
// the loader sees first (the admin's `git init` commit, then a write that touched another file).
import { execFileSync } from "node:child_process";
import type { ConfigLoader } from "../src/config-loader";
import { Harness, put } from "./loader-harness";

describe("config-loader provenance", () => {
  let h: Harness;
  let loader: ConfigLoader | undefined;

  beforeAll(async () => {
    h = await Harness.start();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("credits an unchanged file to the commit that last changed it, not HEAD (N3)", async () => {
    const root = h.tempDir();
    const git = (...args: string[]) =>
      execFileSync("git", ["-C", root, ...args], { encoding: "utf8" }).trim();
    put(root, "prov/a.yaml", "v: 1\n");
    put(root, "prov/b.yaml", "v: 1\n");
    ({ loader } = await h.loader(root, { git: true }));
    const first = await h.entries("prov");
    expect(first.get("b")!.entry.gitCommit).toBe(""); // no repository yet
    // The folder comes under version control (as the admin's first write does)...
    git("init", "-q");
    git("config", "user.email", "init@example.test");
    git("config", "user.name", "Init");
    git("add", "-A");
    git("commit", "-q", "-m", "config folder under version control");
    const adopt = git("rev-parse", "HEAD");
    // ... and the next commit touches a.yaml only.
    put(root, "prov/a.yaml", "v: 2\n");
    git("-c", "user.name=W", "-c", "user.email=w@example.test", "commit", "-qam", "a only");
    const head = git("rev-parse", "HEAD");
    expect((await loader.reconcile("full")).ok).toBe(true);
    const after = await h.entries("prov");
    expect(after.get("a")!.entry.gitCommit).toBe(head);
    expect(after.get("a")!.entry.gitAuthor).toBe("W <w@example.test>");
    expect(after.get("b")!.entry.sha256).toBe(first.get("b")!.entry.sha256);
    expect(after.get("b")!.entry.gitCommit).toBe(adopt);
    expect(after.get("b")!.entry.gitAuthor).toBe("Init <init@example.test>");
  });
});
