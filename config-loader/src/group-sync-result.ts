import type { SourceProblem } from "@konorkestra/sdk/internal";
import type { StrongWriter } from "./strong-writer";
import type { WritePolicies } from "./write-policy";

/** What a group synchronizer needs to know. */
export interface GroupSyncOptions {
  maxValueBytes: number;
  keepDeleted: boolean;
  loaderId: string;
  git: boolean;
}

/** A change set as written. */
export interface ChangeSetReport {
  id: string;
  size: number;
  firstRevision: number;
  lastRevision: number;
  atomic: boolean;
  puts: string[];
  deletes: string[];
}

/** A file that was not published, and why. */
export interface RejectedFile {
  sourcePath: string;
  /** "" when the path names no valid key. */
  key: string;
  code: SourceProblem["code"];
  reason: string;
  line: number;
  column: number;
  valuePath?: string;
  /** First time this content was refused (logged and announced now). */
  firstSeen: boolean;
}

/** Outcome of one pass over a group. */
export interface GroupSyncResult {
  group: string;
  filesScanned: number;
  changeSets: ChangeSetReport[];
  rejected: RejectedFile[];
  unchanged: number;
  /** Keys without a file left in place (KON_KEEP_DELETED or an incomplete scan). */
  kept: string[];
  /** Events that could not be published (the KV writes stand). */
  eventErrors: number;
  /** STRONG writes abandoned in this pass (nothing written for these keys). */
  aborted?: { prepareId: string; keys: string[]; reason: string }[];
}

/** Per-write policies (intents, folder settings) and the STRONG path; without them all is EVENTUAL. */
export interface WritePaths {
  policies: WritePolicies;
  strong: StrongWriter;
}
