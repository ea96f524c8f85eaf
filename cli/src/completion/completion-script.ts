import type { CompletionNode, CompletionWord } from "./command-tree";

/** Shells `kon completion` writes a script for. */
export const SHELLS = ["bash", "zsh"] as const;
export type Shell = (typeof SHELLS)[number];

/** A word as a single-quoted shell string. */
function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `case` branches, one per node, whose body prints `words` of it. */
function caseTable(
  nodes: readonly CompletionNode[],
  body: (n: CompletionNode) => string,
  indent = "    ",
): string {
  return nodes.map((n) => `${indent}${n.paths.map(quote).join("|")}) ${body(n)} ;;`).join("\n");
}

const plain = (words: readonly CompletionWord[]) =>
  `echo ${quote(words.map((w) => w.word).join(" "))}`;

/** The bash script: `source <(kon completion bash)`, or save it under bash-completion's dir. */
export function bashScript(nodes: readonly CompletionNode[]): string {
  return `# kon completion for bash, generated from kon's command tree by 'kon completion bash'.
# Load it with: source <(kon completion bash)
_kon_subs() {
  case "$1" in
${caseTable(nodes, (n) => plain(n.commands))}
  esac
}
_kon_opts() {
  case "$1" in
${caseTable(nodes, (n) => plain(n.options))}
  esac
}
_kon_value_opts() {
  case "$1" in
${caseTable(nodes, (n) => `echo ${quote(n.valueOptions.join(" "))}`)}
  esac
}
_kon_has() { [[ " $1 " == *" $2 "* ]]; }
_kon() {
  local cur prev word path="" i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    [[ "$word" == -* ]] && continue
    _kon_has "$(_kon_value_opts "$path")" "\${COMP_WORDS[i-1]}" && continue
    _kon_has "$(_kon_subs "$path")" "$word" && path="\${path:+$path }$word"
  done
  if _kon_has "$(_kon_value_opts "$path")" "$prev"; then
    COMPREPLY=($(compgen -f -- "$cur"))
    return
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_kon_opts "$path")" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(_kon_subs "$path")" -- "$cur"))
  fi
}
complete -F _kon kon
`;
}

/** `name:description` lines for zsh's `_describe` (a colon in the name must be escaped). */
function described(words: readonly CompletionWord[]): string {
  const lines = words.map(
    (w) => `${w.word.replace(/:/g, "\\:")}:${w.description.replace(/\s+/g, " ")}`,
  );
  return lines.length ? `print -rl -- ${lines.map(quote).join(" ")}` : ":";
}

/** The zsh script: save as `_kon` in a directory of $fpath, or `source <(kon completion zsh)`. */
export function zshScript(nodes: readonly CompletionNode[]): string {
  return `#compdef kon
# kon completion for zsh, generated from kon's command tree by 'kon completion zsh'.
# Save it as _kon in a directory of $fpath, or load it with: source <(kon completion zsh)
_kon_subs() {
  case "$1" in
${caseTable(nodes, (n) => described(n.commands))}
  esac
}
_kon_opts() {
  case "$1" in
${caseTable(nodes, (n) => described(n.options))}
  esac
}
_kon_value_opts() {
  case "$1" in
${caseTable(nodes, (n) => `print -r -- ${quote(n.valueOptions.join(" "))}`)}
  esac
}
_kon_has() { [[ " $1 " == *" $2 "* ]]; }
# The names of "name:description" lines, space-separated (what _kon_has looks in).
_kon_names() { local l out=""; for l in \${(f)1}; do out+="\${l%%:*} "; done; print -r -- "$out"; }
_kon() {
  local word path_="" i
  local -a subs opts
  for ((i = 2; i < CURRENT; i++)); do
    word="\${words[i]}"
    [[ "$word" == -* ]] && continue
    _kon_has "$(_kon_value_opts "$path_")" "\${words[i-1]}" && continue
    _kon_has "$(_kon_names "$(_kon_subs "$path_")")" "$word" && path_="\${path_:+$path_ }$word"
  done
  if _kon_has "$(_kon_value_opts "$path_")" "\${words[CURRENT-1]}"; then
    _files
    return
  fi
  # Unquoted (f) drops empty lines, so a command without subcommands offers none.
  subs=(\${(f)"$(_kon_subs "$path_")"})
  opts=(\${(f)"$(_kon_opts "$path_")"})
  if [[ "\${words[CURRENT]}" == -* ]]; then
    _describe -t options 'option' opts
  else
    _describe -t commands 'command' subs
  fi
}
if [[ "\${funcstack[1]}" == "_kon" ]]; then
  _kon "$@"
else
  compdef _kon kon
fi
`;
}
