import { ConfigEntry, ConsistencyMode } from "@konorkestra/proto";
import type { ConfigEntryInit } from "@konorkestra/proto";
import type { ParsedConfig } from "@konorkestra/sdk/internal";
import type { RegisteredSchema } from "./config-store";

/** Everything a published entry says about a value. */
export interface EntryFacts {
  key: string;
  config: ParsedConfig;
  sourcePath: string;
  git: { gitCommit: string; gitAuthor: string };
  changeSetId: string;
  changeSetSize: number;
  atMs: number;
  schemas: RegisteredSchema[];
  publishedBy: string;
  strong: boolean;
  /** 0: current at once. */
  activateAtMs: number;
  /** The key's revision this value replaces; written only with an activation instant. */
  previousRevision: number;
}

/** The ConfigEntry the loader writes for a file's value (wire contract §2.1). */
export function buildEntry(f: EntryFacts): ConfigEntryInit {
  return {
    ...(f.activateAtMs > 0
      ? { activateAtMs: f.activateAtMs, previousRevision: f.previousRevision }
      : {}),
    ...(f.strong ? { consistency: ConsistencyMode.STRONG } : {}),
    payload: f.config.payload,
    contentType: "application/json",
    sourceFormat:
      f.config.format === "yaml" ? ConfigEntry.SourceFormat.YAML : ConfigEntry.SourceFormat.JSON,
    sha256: f.config.sha256,
    sourcePath: f.sourcePath,
    ...f.git,
    changeSetId: f.changeSetId,
    changeSetSize: f.changeSetSize,
    updatedAtMs: f.atMs,
    schemaId: f.schemas.map((s) => s.id).join(","),
    schemaVersion: f.schemas[0]?.revision ?? 0,
    key: f.key,
    publishedBy: f.publishedBy,
  };
}
