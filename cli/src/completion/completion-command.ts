import { Argument } from "commander";
import type { Command } from "commander";

import type { CliIo } from "../program";
import { completionTree } from "./command-tree";
import { SHELLS, bashScript, zshScript } from "./completion-script";
import type { Shell } from "./completion-script";

/** `kon completion bash|zsh`: prints a completion script made from the command tree. */
export function registerCompletionCommand(program: Command, io: CliIo): void {
  program
    .command("completion")
    .description("print a shell completion script (bash or zsh)")
    .addArgument(new Argument("<shell>", "the shell").choices(SHELLS))
    .addHelpText(
      "after",
      '\nbash: source <(kon completion bash)\nzsh:  kon completion zsh > "${fpath[1]}/_kon"  (or source <(kon completion zsh))',
    )
    .action((shell: Shell) => {
      // The root of the tree, whichever command this was registered on.
      let root = program;
      while (root.parent) root = root.parent;
      const nodes = completionTree(root);
      io.stdout.write(shell === "bash" ? bashScript(nodes) : zshScript(nodes));
    });
}
