import { ConfigEntry, ConsistencyMode, decodeMessage } from "@konorkestra/proto";
import { parseConfigBytes, sha256Hex } from "@konorkestra/sdk/internal";
import { AdminError, AdminErrorCode } from "../domain/admin-error";
import type { ConfigBuckets, StoredValue } from "./config-buckets";
import type { ConfigFolder } from "./config-folder";
import type { GitRepo } from "./git-repo";
import { jsonDiff } from "./json-diff";
import type { JsonChange } from "./json-diff";

/** A key's value as the API shows it. */
export interface ConfigView {
  module: string;
  configs: unknown;
  revision: number;
  sha256: string;
  commit: string;
  author: string;
  published_by: string;
  updated_at: string | null;
  consistency: "eventual" | "strong";
  activate_at: string | null;
  source_path: string;
  change_set: { id: string; size: number };
}

/** One transaction of a key's history, newest first. */
export interface HistoryItem {
  /** KV revision; null for an older commit the bucket no longer keeps. */
  revision: number | null;
  operation: "put" | "delete";
  sha256: string;
  commit: string;
  who: string;
  at: string | null;
  change_set: { id: string; size: number };
  /** Where this item comes from: the bucket's history or the folder's git log. */
  source: "kv" | "git";
}

export interface SearchQuery {
  module?: string;
  prefix?: string;
  revision?: number;
  since_revision?: number;
  limit: number;
}

/** How far back the git part of a history goes. */
const GIT_LOG_MAX = 500;
const iso = (ms: number): string | null => (ms > 0 ? new Date(ms).toISOString() : null);

export function viewOf(s: StoredValue): ConfigView {
  const e = s.entry;
  return {
    module: s.key,
    configs: s.value,
    revision: s.revision,
    sha256: e.sha256,
    commit: e.gitCommit,
    author: e.gitAuthor,
    published_by: e.publishedBy,
    updated_at: iso(Number(e.updatedAtMs)),
    consistency: e.consistency === ConsistencyMode.STRONG ? "strong" : "eventual",
    activate_at: iso(Number(e.activateAtMs)),
    source_path: e.sourcePath,
    change_set: { id: e.changeSetId, size: e.changeSetSize },
  };
}

/**
 * Reads for the API: a key's value, search, history (the bucket's history for recent revisions,
 * the folder's git log beyond it), values at a revision or commit, diffs.
 */
export class ConfigReader {
  constructor(
    private readonly buckets: ConfigBuckets,
    private readonly folder: ConfigFolder,
    /** The folder's repository, if any (reads never create one): else history is the bucket's. */
    private readonly repo: () => Promise<GitRepo | undefined>,
  ) {}

  async get(group: string, key: string): Promise<ConfigView> {
    const s = await this.buckets.current(group, key);
    if (!s) throw new AdminError(AdminErrorCode.NotFound, `no config ${key} in group ${group}`);
    return viewOf(s);
  }

  async search(group: string, q: SearchQuery): Promise<ConfigView[]> {
    if (q.revision !== undefined && q.module !== undefined) {
      const s = await this.buckets.atRevision(group, q.module, q.revision);
      return s ? [viewOf(s)] : [];
    }
    const kv = await this.buckets.kv(group);
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    keys.sort();
    const out: ConfigView[] = [];
    for (const k of keys) {
      if (q.module !== undefined && k !== q.module) continue;
      if (q.prefix !== undefined && !k.startsWith(q.prefix)) continue;
      const s = await this.buckets.current(group, k);
      if (!s) continue;
      if (q.revision !== undefined && s.revision !== q.revision) continue;
      if (q.since_revision !== undefined && s.revision < q.since_revision) continue;
      out.push(viewOf(s));
      if (out.length >= q.limit) break;
    }
    return out;
  }

  /** A page of the key's history after `cursor` (opaque; from a previous page's `next`). */
  async history(
    group: string,
    key: string,
    limit: number,
    cursor?: string,
  ): Promise<{ items: HistoryItem[]; next: string | null }> {
    const all = await this.historyIds(group, key);
    let start = 0;
    if (cursor !== undefined) {
      const after = decodeCursor(cursor);
      const i = all.findIndex((x) => x.id === after);
      if (i < 0)
        throw new AdminError(
          AdminErrorCode.InvalidInput,
          "the cursor does not name an item of this history",
          { field: "cursor" },
        );
      start = i + 1;
    }
    const page = all.slice(start, start + limit);
    const items: HistoryItem[] = [];
    for (const p of page) items.push(await p.load());
    const more = start + limit < all.length;
    return { items, next: more ? encodeCursor(page[page.length - 1]!.id) : null };
  }

  /** The key's value at a revision, a commit, or "current". */
  async valueAt(group: string, key: string, ref: string): Promise<unknown> {
    if (ref === "current") return (await this.get(group, key)).configs;
    if (/^\d+$/.test(ref)) {
      const s = await this.buckets.atRevision(group, key, Number(ref));
      if (!s)
        throw new AdminError(
          AdminErrorCode.NotFound,
          `revision ${ref} of ${key} is not kept (see its history)`,
          { ref },
        );
      return s.value;
    }
    const repo = await this.repo();
    if (!repo) {
      throw new AdminError(
        AdminErrorCode.NotFound,
        `no git repository holds the config folder: commit ${ref} is unknown`,
        { ref },
      );
    }
    const file = await this.folder.keyFile(group, key);
    const bytes = await repo.show(ref, repo.relPath(file.abs));
    if (!bytes)
      throw new AdminError(AdminErrorCode.NotFound, `${key} has no file at commit ${ref}`, { ref });
    const parsed = parseConfigBytes(bytes, file.abs.endsWith(".json") ? "json" : "yaml", Infinity);
    if (!parsed.ok)
      throw new AdminError(
        AdminErrorCode.Conflict,
        `${key} at ${ref} is not valid: ${parsed.problem.reason}`,
      );
    return parsed.config.value;
  }

  async diff(group: string, key: string, from: string, to: string): Promise<JsonChange[]> {
    return jsonDiff(await this.valueAt(group, key, from), await this.valueAt(group, key, to));
  }

  /** Every item of the history, newest first, each loaded only when a page shows it. */
  private async historyIds(
    group: string,
    key: string,
  ): Promise<{ id: string; load: () => Promise<HistoryItem> }[]> {
    const kv = await this.buckets.kv(group);
    const kvItems: HistoryItem[] = [];
    const it = await kv.history({ key });
    for await (const e of it) {
      kvItems.push(kvItem(e.revision, e.operation, e.value, e.created.getTime()));
    }
    kvItems.reverse();
    const seen = new Set(kvItems.map((x) => x.commit).filter((c) => c !== ""));
    const oldestMs = Math.min(...kvItems.map((x) => (x.at ? Date.parse(x.at) : Infinity)));
    const kvIds = kvItems.map((x) => ({ id: `r${x.revision}`, load: () => Promise.resolve(x) }));
    const repo = await this.repo();
    if (!repo) return kvIds;
    const rel = repo.relPath((await this.folder.keyFile(group, key)).abs);
    const commits = (await repo.log(rel, GIT_LOG_MAX)).filter(
      (c) =>
        !seen.has(c.commit) &&
        (kvItems.length === 0 || c.atMs < oldestMs) &&
        !c.subject.startsWith("kon revert"),
    );
    return [
      ...kvIds,
      ...commits.map((c) => ({
        id: `c${c.commit}`,
        load: async (): Promise<HistoryItem> => {
          const bytes = await repo.show(c.commit, rel);
          const parsed =
            bytes && parseConfigBytes(bytes, rel.endsWith(".json") ? "json" : "yaml", Infinity);
          return {
            revision: null,
            operation: bytes ? "put" : "delete",
            sha256: parsed && parsed.ok ? parsed.config.sha256 : "",
            commit: c.commit,
            who: c.author,
            at: iso(c.atMs),
            change_set: { id: c.commit, size: 0 },
            source: "git",
          };
        },
      })),
    ];
  }
}

function kvItem(revision: number, operation: string, value: Uint8Array, atMs: number): HistoryItem {
  if (operation !== "PUT" || value.length === 0) {
    const none = { id: "", size: 0 };
    return {
      revision,
      operation: "delete",
      sha256: "",
      commit: "",
      who: "",
      at: iso(atMs),
      change_set: none,
      source: "kv",
    };
  }
  const e = decodeMessage(ConfigEntry, value);
  return {
    revision,
    operation: "put",
    sha256: sha256Hex(e.payload) === e.sha256 ? e.sha256 : "",
    commit: e.gitCommit,
    who: e.gitAuthor || e.publishedBy,
    at: iso(Number(e.updatedAtMs)),
    change_set: { id: e.changeSetId, size: e.changeSetSize },
    source: "kv",
  };
}

function encodeCursor(id: string): string {
  return Buffer.from(JSON.stringify({ after: id })).toString("base64url");
}

function decodeCursor(cursor: string): string {
  try {
    const v = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as { after?: unknown };
    if (typeof v.after === "string") return v.after;
  } catch {
    // falls through to the refusal
  }
  throw new AdminError(AdminErrorCode.InvalidInput, "the cursor is not one this API gave", {
    field: "cursor",
  });
}
