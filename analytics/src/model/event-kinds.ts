import { CONFIG_EVENT_WORDS } from "@konorkestra/sdk/internal";
import type { ConfigEventWord, NodeEventWord } from "@konorkestra/sdk/internal";

// The `kind` columns hold the sdk's event words, the last token of an event's subject
// (`<prefix>.evt.<group>.node.<word>`, `….config.<word>`); these names say so in analytics' terms.

/** `node_events.kind`: `up`, `down`, `left` or `flapping`. */
export type NodeEventKind = NodeEventWord;

/** A node's liveness state as the monitor reports it: every node event kind but `flapping`. */
export type LivenessState = Exclude<NodeEventKind, "flapping">;

/** `config_events.kind`: `published`, `deleted`, `rejected`, `applied`, … */
export type ConfigEventKind = ConfigEventWord;

/** Every config event kind, in the order the API lists them. */
export const CONFIG_EVENT_KINDS: readonly ConfigEventKind[] = CONFIG_EVENT_WORDS;

/** One UP / DOWN / LEFT event of a node: what uptime, timelines and incidents are built from. */
export interface StateEvent {
  atMs: number;
  state: LivenessState;
  /** DOWN that was part of a mass failure. */
  suspect?: boolean;
}
