import type { ConfigEventKind } from "./event-kinds";

/** One entry of the config history, as the API serves it. Absent values are null. */
export interface ConfigChange {
  atMs: number;
  eventId: string;
  group: string;
  /** Empty when the loader refused a file whose name maps to no valid key. */
  key: string;
  kind: ConfigEventKind;
  revision: number | null;
  sha256: string | null;
  changeSetId: string | null;
  sourcePath: string | null;
  /** The node that reported it (node-side rejection, applied, prepare); null for the loader. */
  nodeId: string | null;
  prepareId: string | null;
  /** From the ConfigEntry of a published revision; null when not known. */
  author: string | null;
  gitCommit: string | null;
  publishedBy: string | null;
  error: {
    file: string | null;
    line: number | null;
    column: number | null;
    reason: string;
    code: string | null;
    valuePath: string | null;
  } | null;
  receivedAtMs: number;
}

/** Where a value came from, read from its ConfigEntry (ConfigEvent does not carry it). */
export interface ConfigProvenance {
  /** ConfigEntry.git_commit; undefined when the folder is not a git checkout. */
  gitCommit?: string;
  /** ConfigEntry.git_author ("Name <email>"). */
  gitAuthor?: string;
  /** ConfigEntry.published_by: a config-loader id, or `cli:<user>`. */
  publishedBy?: string;
}

/** Finds who wrote a revision of a key (the ConfigEntry in the group's bucket). */
export interface ConfigProvenanceLookup {
  /** Undefined when the revision is gone (compacted, purged) or is not a ConfigEntry. */
  provenance(group: string, key: string, revision: number): Promise<ConfigProvenance | undefined>;
}
