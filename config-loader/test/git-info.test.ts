import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scanGroup } from "../../sdk/src/config-files/tree-scanner";
import { gitFieldsFor, readGitInfo } from "../src/git-info";

let root: string;
const git = (...args: string[]): string =>
  execFileSync("git", ["-C", root, ...args], { encoding: "utf8" }).trim();
const commitAll = (author: string): string => {
  git("add", "-A");
  git(
    "-c",
    "user.name=T",
    "-c",
    "user.email=t@example.org",
    "commit",
    "-qm",
    "c",
    `--author=${author}`,
  );
  return git("rev-parse", "HEAD");
};

beforeEach(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), "kon-git-info-")));
  git("init", "-q");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

test("a committed file is credited to HEAD and its author", async () => {
  writeFileSync(join(root, "a.yaml"), "x: 1\n");
  const head = commitAll("Grace <grace@example.org>");
  const info = await readGitInfo(root);
  expect(gitFieldsFor(info, join(root, "a.yaml"))).toEqual({
    gitCommit: head,
    gitAuthor: "Grace <grace@example.org>",
  });
});

test("a modified, staged or untracked file is credited to no commit", async () => {
  writeFileSync(join(root, "a.yaml"), "x: 1\n");
  writeFileSync(join(root, "b.yaml"), "y: 1\n");
  commitAll("Grace <grace@example.org>");
  writeFileSync(join(root, "a.yaml"), "x: 2\n"); // modified
  writeFileSync(join(root, "b.yaml"), "y: 2\n");
  git("add", "b.yaml"); // staged, not committed
  writeFileSync(join(root, "c.yaml"), "z: 1\n"); // untracked
  const info = await readGitInfo(root);
  for (const f of ["a.yaml", "b.yaml", "c.yaml"]) {
    expect(gitFieldsFor(info, join(root, f))).toEqual({ gitCommit: "", gitAuthor: "" });
  }
});

test("a folder outside any work tree, or a repository without a commit, has no git info", async () => {
  expect(await readGitInfo(root)).toBeUndefined(); // initialised, no commit yet
  const bare = realpathSync(mkdtempSync(join(tmpdir(), "kon-git-none-")));
  try {
    // GIT_CEILING_DIRECTORIES keeps git from finding a repository above the temporary folder.
    process.env.GIT_CEILING_DIRECTORIES = tmpdir();
    expect(await readGitInfo(bare)).toBeUndefined();
  } finally {
    delete process.env.GIT_CEILING_DIRECTORIES;
    rmSync(bare, { recursive: true, force: true });
  }
});

test("a file reached through an untracked symlink is credited to no commit (H5)", async () => {
  mkdirSync(join(root, "g", "sub"), { recursive: true });
  writeFileSync(join(root, "g", "a.yaml"), "x: 1\n");
  writeFileSync(join(root, "g", "sub", "b.yaml"), "y: 1\n");
  commitAll("Grace <grace@example.org>");
  symlinkSync("a.yaml", join(root, "g", "alias.yaml")); // untracked file link
  symlinkSync("sub", join(root, "g", "sublink")); // untracked folder link
  const fields = async (): Promise<Record<string, string>> => {
    const info = await readGitInfo(join(root, "g"));
    const scan = (await scanGroup(root, "g"))!;
    return Object.fromEntries(
      scan.files.map((f) => [f.sourcePath, gitFieldsFor(info, f.realPath, f.links).gitCommit]),
    );
  };
  const first = git("rev-parse", "HEAD");
  expect(await fields()).toEqual({
    "g/a.yaml": first,
    "g/alias.yaml": "",
    "g/sub/b.yaml": first,
    "g/sublink/b.yaml": "",
  });
  const second = commitAll("Ada <ada@example.org>"); // the links are committed now
  expect(await fields()).toEqual({
    "g/a.yaml": second,
    "g/alias.yaml": second,
    "g/sub/b.yaml": second,
    "g/sublink/b.yaml": second,
  });
});
