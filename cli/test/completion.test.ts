// `kon completion bash|zsh`: the scripts come from the command tree, and bash really completes
// with them (run in a real bash).
import { execFileSync, spawnSync } from "node:child_process";
import { PassThrough } from "node:stream";

import { buildProgram } from "../src/program";
import { completionTree } from "../src/completion/command-tree";
import { CliRunner } from "./helpers/cli-runner";

const kon = new CliRunner();
afterAll(() => kon.cleanup());

/** What bash's `complete -F _kon` offers for the words typed so far (the last may be partial). */
function bashComplete(script: string, words: string[]): string[] {
  const line = ["kon", ...words];
  const program = [
    script,
    `COMP_WORDS=(${line.map((w) => `'${w}'`).join(" ")})`,
    `COMP_CWORD=${line.length - 1}`,
    "_kon",
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join("\n");
  return execFileSync("bash", ["--norc", "--noprofile", "-c", program], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean);
}

test("bash: commands, subcommands, aliases, options and option values complete", async () => {
  const r = await kon.run(["completion", "bash"]);
  expect(r.code).toBe(0);
  const script = r.stdout;
  expect(bashComplete(script, [""])).toEqual(
    expect.arrayContaining(["login", "logout", "context", "group", "join", "nodes", "status"]),
  );
  expect(bashComplete(script, ["gr"])).toEqual(["group"]);
  expect(bashComplete(script, ["group", ""]).sort()).toEqual(
    ["create", "delete", "help", "list", "ls", "revoke-key", "rm", "rotate-key", "show"].sort(),
  );
  // Options of the command and the global ones; after an option that takes a value, not commands.
  expect(bashComplete(script, ["group", "rotate-key", "--"])).toEqual(
    expect.arrayContaining(["--grace", "--json", "--context", "--help"]),
  );
  expect(bashComplete(script, ["--context", "prod", "group", "l"]).sort()).toEqual(["list", "ls"]);
  expect(bashComplete(script, ["group", "ls", "--"])).toContain("--quiet");
});

test("every command of the tree is in both scripts; the zsh one parses when zsh exists", async () => {
  const io = { stdout: new PassThrough(), stderr: new PassThrough(), env: {} };
  const paths = completionTree(buildProgram(io)).flatMap((n) => n.paths);
  expect(paths).toEqual(expect.arrayContaining(["", "group create", "context set", "completion"]));
  const bash = (await kon.run(["completion", "bash"])).stdout;
  const zsh = (await kon.run(["completion", "zsh"])).stdout;
  for (const p of paths) {
    expect(bash).toContain(`'${p}'`);
    expect(zsh).toContain(`'${p}'`);
  }
  expect(zsh.startsWith("#compdef kon\n")).toBe(true);
  expect(zsh).toContain("'--grace:how long older keys keep working, e.g. 10m, 24h, 0'");
  expect(spawnSync("bash", ["-n", "-c", bash]).status).toBe(0);
  const hasZsh = spawnSync("zsh", ["--version"]).status === 0;
  if (hasZsh) expect(spawnSync("zsh", ["-n", "-c", zsh]).status).toBe(0);
});

test("an unknown shell is a usage error", async () => {
  const r = await kon.run(["completion", "fish"]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("Allowed choices are bash, zsh");
});
