import { ConfigEvent, NodeEvent } from "@konorkestra/proto";

/**
 * Words of node events: the last subject token (`<prefix>.evt.<group>.node.<word>`), the value of
 * analytics' `kind` column, and the monitor's own name for a transition.
 */
export const NODE_EVENT_WORDS = ["up", "down", "left", "flapping"] as const;
export type NodeEventWord = (typeof NODE_EVENT_WORDS)[number];

/** Words of config events (`<prefix>.evt.<group>.config.<word>`). */
export const CONFIG_EVENT_WORDS = [
  "published",
  "deleted",
  "rejected",
  "applied",
  "prepare_ok",
  "prepare_failed",
  "aborted",
] as const;
export type ConfigEventWord = (typeof CONFIG_EVENT_WORDS)[number];

/** The subject part after the group: `node.<word>` or `config.<word>`. */
export type EventKind = `node.${NodeEventWord}` | `config.${ConfigEventWord}`;

const NODE_WORD_OF = new Map<NodeEvent.Kind, NodeEventWord>([
  [NodeEvent.Kind.UP, "up"],
  [NodeEvent.Kind.DOWN, "down"],
  [NodeEvent.Kind.LEFT, "left"],
  [NodeEvent.Kind.FLAPPING, "flapping"],
]);
const NODE_KIND_OF = new Map([...NODE_WORD_OF].map(([k, w]) => [w, k] as const));

const CONFIG_WORD_OF = new Map<ConfigEvent.Kind, ConfigEventWord>([
  [ConfigEvent.Kind.PUBLISHED, "published"],
  [ConfigEvent.Kind.DELETED, "deleted"],
  [ConfigEvent.Kind.REJECTED, "rejected"],
  [ConfigEvent.Kind.APPLIED, "applied"],
  [ConfigEvent.Kind.PREPARE_OK, "prepare_ok"],
  [ConfigEvent.Kind.PREPARE_FAILED, "prepare_failed"],
  [ConfigEvent.Kind.ABORTED, "aborted"],
]);
const CONFIG_KIND_OF = new Map([...CONFIG_WORD_OF].map(([k, w]) => [w, k] as const));

const EVENT_KINDS = new Set<string>([
  ...NODE_EVENT_WORDS.map((w) => `node.${w}`),
  ...CONFIG_EVENT_WORDS.map((w) => `config.${w}`),
]);

/** The word of a node event kind; undefined for KIND_UNSPECIFIED or a kind newer than this code. */
export function nodeEventWord(kind: NodeEvent.Kind): NodeEventWord | undefined {
  return NODE_WORD_OF.get(kind);
}

export function nodeEventKind(word: NodeEventWord): NodeEvent.Kind {
  return NODE_KIND_OF.get(word)!;
}

/** The word of a config event kind; undefined for KIND_UNSPECIFIED or a kind newer than this code. */
export function configEventWord(kind: ConfigEvent.Kind): ConfigEventWord | undefined {
  return CONFIG_WORD_OF.get(kind);
}

export function configEventKind(word: ConfigEventWord): ConfigEvent.Kind {
  return CONFIG_KIND_OF.get(word)!;
}

export function isNodeEventWord(word: string): word is NodeEventWord {
  return (NODE_EVENT_WORDS as readonly string[]).includes(word);
}

export function isEventKind(kind: string): kind is EventKind {
  return EVENT_KINDS.has(kind);
}

/** Returns `kind`, or throws for a kind no subject may carry (a programming error). */
export function assertEventKind(kind: string): EventKind {
  if (!isEventKind(kind)) throw new TypeError(`unknown event kind ${JSON.stringify(kind)}`);
  return kind;
}
