import { ConfigEntry, decodeMessage } from "@konorkestra/proto";
import type { RawChange } from "./raw-change";
import { sha256Hex } from "./stable-hash";

/** A delivered entry that passed the wire checks, before its JSON is parsed. */
export interface VerifiedEntry {
  readonly entry: ConfigEntry;
  /** sha256 of the payload as delivered (recomputed, never the claimed one). */
  readonly sha256: string;
}

/**
 * The change's entry, decoded once, with its payload's sha256 checked and its type JSON.
 * @throws Error when undecodable, EntryRefusal on a sha256 mismatch or another content type
 */
export function verifiedEntry(c: RawChange): VerifiedEntry {
  let entry: ConfigEntry;
  try {
    entry = c.entry ?? decodeMessage(ConfigEntry, c.data ?? new Uint8Array());
  } catch (err) {
    throw new Error(`not a ConfigEntry: ${message(err)}`);
  }
  c.entry = entry;
  // Hash the bytes as stored (wire contract §3.3): an entry whose claimed hash is not its
  // payload's was altered or corrupted after the writer hashed it.
  const sha256 = sha256Hex(entry.payload);
  if (entry.sha256 && entry.sha256 !== sha256) {
    throw new EntryRefusal(
      `sha256 mismatch: the entry claims ${entry.sha256}, its payload hashes to ${sha256}`,
      entry.sha256,
    );
  }
  if (entry.contentType && entry.contentType !== "application/json") {
    throw new EntryRefusal(
      `unsupported content type ${JSON.stringify(entry.contentType)}`,
      entry.sha256,
    );
  }
  return { entry, sha256 };
}

/** A decoded entry that cannot be used; carries the sha256 it claims, for the report. */
export class EntryRefusal extends Error {
  constructor(
    message: string,
    readonly claimedSha256: string,
  ) {
    super(message);
  }
}

/** The payload's JSON value. @throws EntryRefusal when it is not JSON */
export function jsonOf(entry: ConfigEntry): unknown {
  try {
    return JSON.parse(Buffer.from(entry.payload).toString("utf8"));
  } catch (err) {
    throw new EntryRefusal(`payload is not JSON: ${message(err)}`, entry.sha256);
  }
}

/** The sha256 a refused entry claimed ("" when it could not be decoded). */
export function claimedSha(err: unknown): string {
  return err instanceof EntryRefusal ? err.claimedSha256 : "";
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
