import type { Command, Option } from "commander";

/** A word completion offers, with the text shown next to it by zsh. */
export interface CompletionWord {
  word: string;
  description: string;
}

/** What may follow one command path (`""`, `"group"`, `"group create"`). */
export interface CompletionNode {
  /** The path and every spelling of it with aliases (`group list`, `group ls`). */
  paths: string[];
  commands: CompletionWord[];
  options: CompletionWord[];
  /** Options that take a value (the next word is that value, not a command). */
  valueOptions: string[];
}

function optionWords(opts: readonly Option[]): { words: CompletionWord[]; value: string[] } {
  const words: CompletionWord[] = [];
  const value: string[] = [];
  for (const o of opts) {
    for (const flag of [o.short, o.long]) {
      if (!flag) continue;
      words.push({ word: flag, description: o.description });
      if (o.required || o.optional) value.push(flag);
    }
  }
  return { words, value };
}

/**
 * Walks commander's tree (as its help sees it: hidden commands left out, the help command and
 * option included) into one node per command path. Options of ancestors (the global ones) are
 * offered at every level, as commander accepts them anywhere. The completion scripts are
 * rendered from this, so they can never fall behind the commands.
 */
export function completionTree(program: Command): CompletionNode[] {
  const out: CompletionNode[] = [];
  const walk = (cmd: Command, paths: string[], inherited: readonly Option[]) => {
    const help = cmd.createHelp();
    const own = help.visibleOptions(cmd);
    const { words, value } = optionWords([...own, ...inherited]);
    const subs = help.visibleCommands(cmd);
    out.push({
      paths,
      commands: subs.flatMap((c) =>
        [c.name(), ...c.aliases()].map((w) => ({ word: w, description: c.description() })),
      ),
      options: words,
      valueOptions: value,
    });
    const passOn = [...inherited, ...cmd.options];
    for (const c of cmd.commands) {
      if (!subs.includes(c)) continue;
      const names = [c.name(), ...c.aliases()];
      walk(
        c,
        paths.flatMap((p) => names.map((n) => (p ? `${p} ${n}` : n))),
        passOn,
      );
    }
  };
  walk(program, [""], []);
  return out;
}
