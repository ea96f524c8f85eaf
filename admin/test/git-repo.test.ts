import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GitRepo } from "../src/config-api/git-repo";

// Which repository takes the admin's commits. The local stack keeps its config folder in
// `.stack/config`, inside the project's own clone, which ignores `.stack/`: that clone must
// neither take API commits nor make the folder count as a mirror of its remote.
function git(dir: string, ...args: string[]): string {
  return execFileSync("git", ["-C", dir, ...args], {
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@t",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@t",
    },
  }).trim();
}

const made: string[] = [];
afterAll(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

function outerRepo(ignore: string): { outer: string; root: string } {
  const outer = realpathSync(mkdtempSync(join(tmpdir(), "kon-git-outer-")));
  made.push(outer);
  git(outer, "init", "-q", "-b", "main");
  writeFileSync(join(outer, ".gitignore"), ignore);
  git(outer, "add", "-A");
  git(outer, "commit", "-q", "-m", "project");
  // A remote by local path: only its being configured matters, nothing is fetched.
  git(outer, "remote", "add", "origin", join(outer, "..", "upstream.git"));
  const root = join(outer, ".stack", "config");
  mkdirSync(join(root, "demo"), { recursive: true });
  writeFileSync(join(root, "demo", "service1.yaml"), "a: 1\n");
  return { outer, root };
}

describe("GitRepo", () => {
  it("does not take a repository above the root that ignores it; opens one at the root", async () => {
    const { outer, root } = outerRepo(".stack/\n");
    const before = git(outer, "rev-parse", "HEAD");
    expect(await GitRepo.find(root)).toBeUndefined();
    const repo = await GitRepo.open(root);
    expect(repo.topLevel).toBe(root);
    // The folder's own repository: no remote, so not a mirror; the project is untouched.
    expect(await repo.mirrorReason(join(root, "demo"))).toBeUndefined();
    expect(git(root, "ls-files")).toBe("demo/service1.yaml");
    expect(git(outer, "rev-parse", "HEAD")).toBe(before);
    expect((await GitRepo.find(root))?.topLevel).toBe(root);
  });

  it("takes a repository above the root that tracks it (a config folder inside an ops repository)", async () => {
    const { outer, root } = outerRepo("");
    const repo = await GitRepo.find(root);
    expect(repo?.topLevel).toBe(outer);
    expect(await repo!.mirrorReason(join(root, "demo"))).toBe("git remote origin");
  });
});
